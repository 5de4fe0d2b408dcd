#pragma once

#include "resilience/retry_budget.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace osago::host {

/// Settings of one company's circuit breaker (manifest key `breaker`).
struct BreakerConfig {
  int window_calls = 20;                          ///< sliding window: the last N calls
  int minimum_calls = 10;                         ///< no verdict on fewer calls
  double failure_rate = 0.5;                      ///< open at this share of failed calls
  double slow_call_rate = 0.8;                    ///< open at this share of slow calls
  std::chrono::milliseconds slow_call{10000};     ///< a call slower than this is slow
  std::chrono::milliseconds open_wait{30000};     ///< how long to stay open before trying again
  int half_open_calls = 3;                        ///< trial calls allowed when half-open
  std::chrono::milliseconds half_open_max{20000}; ///< a half-open trial that hangs longer reopens the breaker
};

/// A per-company circuit breaker over a count-based sliding window (the
/// resilience4j model): CLOSED lets calls through and records them; when the
/// failure rate or the slow-call rate of the window reaches its threshold it
/// OPENs and refuses calls for `open_wait`; then HALF_OPEN lets a few trial
/// calls through — all good closes it, any failure (or trials that hang past
/// `half_open_max`) opens it again. Time is passed in, so it is testable
/// without sleeping. Thread-safe.
class PartnerBreaker {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State { kClosed, kOpen, kHalfOpen };

  explicit PartnerBreaker(BreakerConfig config);

  /// Whether a call may start now; when it may, the caller must report it with record().
  bool tryAcquire(Clock::time_point now);
  /// Reports the end of an acquired call.
  void record(bool failed, std::chrono::milliseconds duration, Clock::time_point now);
  /// Gives back an acquired permit whose call never started (e.g. the bulkhead was full).
  void release();
  /// Applies new settings, keeping the state and the window.
  void reconfigure(BreakerConfig config);

  State state(Clock::time_point now);
  /// {"state", "failureRate", "slowCallRate", "calls", "openUntilMs"?}
  nlohmann::json describe(Clock::time_point now);

  static const char* name(State s);

 private:
  struct Call {
    bool failed;
    bool slow;
  };
  void advance(Clock::time_point now);  // OPEN → HALF_OPEN after the wait; a hanging trial reopens
  void open(Clock::time_point now);

  BreakerConfig config_;
  std::mutex mutex_;
  State state_ = State::kClosed;
  std::deque<Call> window_;
  Clock::time_point opened_at_{};
  Clock::time_point half_open_since_{};
  int trials_started_ = 0;
  int trials_succeeded_ = 0;
};

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
  PartnerBreaker breaker;
  RetryBudget retry_budget;
  LatencyWindow latency;
  std::atomic<long> calls{0};
  std::atomic<long> failures{0};
  std::atomic<long> circuit_open{0};
  std::atomic<long> bulkhead_full{0};

  nlohmann::json describe(PartnerBreaker::Clock::time_point now);
};

}  // namespace osago::host
