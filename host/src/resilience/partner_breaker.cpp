#include "resilience/partner_breaker.hpp"

#include <algorithm>
#include <cmath>

namespace osago::host {

nlohmann::json PartnerHealth::describe(CircuitBreaker::Clock::time_point now) {
  auto ms = [&](double q) -> nlohmann::json {
    auto v = latency.percentile(q);
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  return {{"breaker", breaker.describe(now)},
          {"retryBudget", retry_budget.describe()},
          {"latencyMs", {{"p50", ms(0.5)}, {"p95", ms(0.95)}, {"p99", ms(0.99)}, {"samples", latency.size()}}},
          {"answerTimeMs", describeAnswerTimes()},
          {"calls", calls.load()},
          {"failures", failures.load()},
          {"refusedCircuitOpen", circuit_open.load()},
          {"refusedBulkheadFull", bulkhead_full.load()},
          {"quarantined", quarantined.load()}};
}

nlohmann::json PartnerHealth::describeAnswerTimes() {
  auto d = answer_times.distribution();
  auto ms = [&](double q) -> nlohmann::json {
    return d->samples() ? nlohmann::json(std::llround(d->quantile(q))) : nlohmann::json(nullptr);
  };
  return {{"p50", ms(0.5)}, {"p95", ms(0.95)}, {"samples", d->samples()}};
}

void LatencyWindow::add(std::chrono::milliseconds latency) {
  std::lock_guard lock(mutex_);
  samples_.push_back(latency.count());
  while (samples_.size() > capacity_) samples_.pop_front();
}

std::optional<long long> LatencyWindow::percentile(double q) const {
  std::vector<long long> sorted;
  {
    std::lock_guard lock(mutex_);
    sorted.assign(samples_.begin(), samples_.end());
  }
  if (sorted.empty()) return std::nullopt;
  std::sort(sorted.begin(), sorted.end());
  // Nearest rank.
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

std::optional<long long> LatencyWindow::settledPercentile(double q, std::size_t min_samples) const {
  if (size() < min_samples) return std::nullopt;
  return percentile(q);
}

std::size_t LatencyWindow::size() const {
  std::lock_guard lock(mutex_);
  return samples_.size();
}

}  // namespace osago::host
