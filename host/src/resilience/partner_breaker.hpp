#pragma once

#include "resilience/retry_budget.hpp"
#include "scheduling/answer_times.hpp"

#include <osago/common/circuit_breaker.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace osago::host {

/// Recent call latencies of one company, for percentiles. Thread-safe.
class LatencyWindow {
 public:
  explicit LatencyWindow(std::size_t capacity = 256) : capacity_(capacity) {}
  void add(std::chrono::milliseconds latency);
  /// The q-quantile (0..1) of the recorded latencies in ms; nullopt when empty.
  std::optional<long long> percentile(double q) const;
  std::size_t size() const;
  /// The q-quantile once at least `min_samples` calls are recorded (a guess
  /// from fewer would be noise); nullopt before.
  std::optional<long long> settledPercentile(double q, std::size_t min_samples = 20) const;

 private:
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::deque<long long> samples_;
};

/// Everything the host tracks about one company's health; shared by every
/// version of its adapter, so an upgrade keeps the breaker's state.
struct PartnerHealth {
  PartnerHealth(BreakerConfig breaker_config, RetryBudgetConfig retry_config)
      : breaker(breaker_config), retry_budget(retry_config) {}
  CircuitBreaker breaker;
  RetryBudget retry_budget;
  LatencyWindow latency;
  AnswerTimes answer_times;  ///< submit → answer ready, this instance's and the fleet's: where polls go
  std::atomic<long> calls{0};
  std::atomic<long> failures{0};
  std::atomic<long> circuit_open{0};
  std::atomic<long> bulkhead_full{0};
  std::atomic<long> quarantined{0};  ///< requests this instance quarantined (their calls kept killing the plugin)

  nlohmann::json describe(CircuitBreaker::Clock::time_point now);
  /// "answerTimeMs" of describe(): p50 and p95 of the answer times (own and fleet) and how many they come from.
  nlohmann::json describeAnswerTimes();
};

}  // namespace osago::host
