#include <osago/common/circuit_breaker.hpp>

#include <algorithm>
#include <cmath>

namespace osago {

BreakerConfig BreakerConfig::read(config::Section& b, const BreakerConfig& defaults) {
  BreakerConfig c = defaults;
  auto ms = [&](const char* key, std::chrono::milliseconds fallback) {
    return std::chrono::milliseconds(b.get<int>(key, static_cast<int>(fallback.count())));
  };
  c.window_calls = b.get<int>("window_calls", c.window_calls);
  c.minimum_calls = b.get<int>("minimum_calls", c.minimum_calls);
  c.failure_rate = b.get<double>("failure_rate", c.failure_rate);
  c.slow_call_rate = b.get<double>("slow_call_rate", c.slow_call_rate);
  c.slow_call = ms("slow_call_ms", c.slow_call);
  c.open_wait = ms("open_ms", c.open_wait);
  c.half_open_calls = b.get<int>("half_open_calls", c.half_open_calls);
  c.half_open_max = ms("half_open_max_ms", c.half_open_max);
  b.finish();
  if (c.window_calls < 1 || c.minimum_calls < 1 || c.minimum_calls > c.window_calls)
    throw ConfigError(b.file(), b.qualified("minimum_calls"), "must be between 1 and window_calls");
  for (double rate : {c.failure_rate, c.slow_call_rate})
    if (rate <= 0 || rate > 1) throw ConfigError(b.file(), b.qualified("failure_rate"), "rates must be in (0, 1]");
  if (c.half_open_calls < 1) throw ConfigError(b.file(), b.qualified("half_open_calls"), "must be at least 1");
  if (c.open_wait.count() < 1) throw ConfigError(b.file(), b.qualified("open_ms"), "must be positive");
  return c;
}

CircuitBreaker::CircuitBreaker(BreakerConfig config) : config_(config) {}

const char* CircuitBreaker::name(State s) {
  switch (s) {
    case State::kOpen: return "OPEN";
    case State::kHalfOpen: return "HALF_OPEN";
    default: return "CLOSED";
  }
}

void CircuitBreaker::open(Clock::time_point now) {
  state_ = State::kOpen;
  opened_at_ = now;
  window_.clear();
  trials_started_ = trials_succeeded_ = 0;
}

void CircuitBreaker::advance(Clock::time_point now) {
  if (state_ == State::kOpen && now - opened_at_ >= config_.open_wait) {
    state_ = State::kHalfOpen;
    half_open_since_ = now;
    trials_started_ = trials_succeeded_ = 0;
  } else if (state_ == State::kHalfOpen && trials_started_ > 0 && now - half_open_since_ >= config_.half_open_max) {
    open(now);  // a trial call hangs: do not stay half-open forever
  }
}

bool CircuitBreaker::tryAcquire(Clock::time_point now) {
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

void CircuitBreaker::record(bool failed, std::chrono::milliseconds duration, Clock::time_point now) {
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

void CircuitBreaker::release() {
  std::lock_guard lock(mutex_);
  if (state_ == State::kHalfOpen && trials_started_ > 0) --trials_started_;
}

void CircuitBreaker::reconfigure(BreakerConfig config) {
  std::lock_guard lock(mutex_);
  config_ = config;
}

CircuitBreaker::State CircuitBreaker::state(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  advance(now);
  return state_;
}

nlohmann::json CircuitBreaker::describe(Clock::time_point now) {
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

}  // namespace osago
