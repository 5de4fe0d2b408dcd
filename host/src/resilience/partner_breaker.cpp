#include "resilience/partner_breaker.hpp"

#include <algorithm>
#include <cmath>

namespace osago::host {

PartnerBreaker::PartnerBreaker(BreakerConfig config) : config_(config) {}

const char* PartnerBreaker::name(State s) {
  switch (s) {
    case State::kOpen: return "OPEN";
    case State::kHalfOpen: return "HALF_OPEN";
    default: return "CLOSED";
  }
}

void PartnerBreaker::open(Clock::time_point now) {
  state_ = State::kOpen;
  opened_at_ = now;
  window_.clear();
  trials_started_ = trials_succeeded_ = 0;
}

void PartnerBreaker::advance(Clock::time_point now) {
  if (state_ == State::kOpen && now - opened_at_ >= config_.open_wait) {
    state_ = State::kHalfOpen;
    half_open_since_ = now;
    trials_started_ = trials_succeeded_ = 0;
  } else if (state_ == State::kHalfOpen && trials_started_ > 0 && now - half_open_since_ >= config_.half_open_max) {
    open(now);  // a trial call hangs: do not stay half-open forever
  }
}

bool PartnerBreaker::tryAcquire(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  advance(now);
  switch (state_) {
    case State::kClosed:
      return true;
    case State::kOpen:
      return false;
    case State::kHalfOpen:
      if (trials_started_ >= config_.half_open_calls) return false;
      ++trials_started_;
      return true;
  }
  return false;
}

void PartnerBreaker::record(bool failed, std::chrono::milliseconds duration, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  bool slow = duration >= config_.slow_call;
  if (state_ == State::kHalfOpen) {
    if (failed || slow) {
      open(now);
    } else if (++trials_succeeded_ >= config_.half_open_calls) {
      state_ = State::kClosed;
      window_.clear();
    }
    return;
  }
  if (state_ == State::kOpen) return;  // a call that started before the breaker opened
  window_.push_back({failed, slow});
  while (static_cast<int>(window_.size()) > config_.window_calls) window_.pop_front();
  if (static_cast<int>(window_.size()) < config_.minimum_calls) return;
  double n = static_cast<double>(window_.size());
  double failures = static_cast<double>(std::count_if(window_.begin(), window_.end(), [](const Call& c) { return c.failed; }));
  double slows = static_cast<double>(std::count_if(window_.begin(), window_.end(), [](const Call& c) { return c.slow; }));
  if (failures / n >= config_.failure_rate || slows / n >= config_.slow_call_rate) open(now);
}

void PartnerBreaker::release() {
  std::lock_guard lock(mutex_);
  if (state_ == State::kHalfOpen && trials_started_ > 0) --trials_started_;
}

void PartnerBreaker::reconfigure(BreakerConfig config) {
  std::lock_guard lock(mutex_);
  config_ = config;
}

PartnerBreaker::State PartnerBreaker::state(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  advance(now);
  return state_;
}

nlohmann::json PartnerBreaker::describe(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  advance(now);
  double n = static_cast<double>(window_.size());
  auto rate = [&](bool Call::*field) {
    if (window_.empty()) return 0.0;
    double k = static_cast<double>(std::count_if(window_.begin(), window_.end(), [&](const Call& c) { return c.*field; }));
    return std::round(k / n * 1000) / 1000;
  };
  nlohmann::json j{{"state", name(state_)}, {"calls", window_.size()}, {"failureRate", rate(&Call::failed)},
                   {"slowCallRate", rate(&Call::slow)}};
  if (state_ == State::kOpen)
    j["openForMs"] = std::chrono::duration_cast<std::chrono::milliseconds>(opened_at_ + config_.open_wait - now).count();
  return j;
}

nlohmann::json PartnerHealth::describe(PartnerBreaker::Clock::time_point now) {
  auto ms = [&](double q) -> nlohmann::json {
    auto v = latency.percentile(q);
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  return {{"breaker", breaker.describe(now)},
          {"retryBudget", retry_budget.describe()},
          {"latencyMs", {{"p50", ms(0.5)}, {"p95", ms(0.95)}, {"p99", ms(0.99)}, {"samples", latency.size()}}},
          {"calls", calls.load()},
          {"failures", failures.load()},
          {"refusedCircuitOpen", circuit_open.load()},
          {"refusedBulkheadFull", bulkhead_full.load()}};
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
