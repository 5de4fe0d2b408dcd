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

void CircuitBreaker::enter(State state, Clock::time_point now) {
  state_ = state;
  ++round_;
  trials_.clear();
  trials_succeeded_ = 0;
  window_.clear();  // the window holds the calls of the current CLOSED round only
  if (state == State::kOpen) opened_at_ = now;
}

void CircuitBreaker::advance(Clock::time_point now) {
  if (state_ == State::kOpen && now - opened_at_ >= config_.open_wait) {
    enter(State::kHalfOpen, now);
  } else if (state_ == State::kHalfOpen) {
    for (const Trial& t : trials_)
      if (now - t.started >= config_.half_open_max) {
        enter(State::kOpen, now);  // a trial call hangs: do not stay half-open forever
        return;
      }
  }
}

CircuitBreaker::Permit CircuitBreaker::tryAcquire(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  advance(now);
  Permit p;
  switch (state_) {
    case State::kClosed:
      break;
    case State::kOpen:
      return p;
    case State::kHalfOpen:
      if (static_cast<int>(trials_.size()) + trials_succeeded_ >= config_.half_open_calls) return p;
      p.trial_ = next_trial_++;
      trials_.push_back({p.trial_, now});
      break;
  }
  p.admitted_ = true;
  p.round_ = round_;
  return p;
}

void CircuitBreaker::endTrial(const Permit& permit) {
  auto it = std::find_if(trials_.begin(), trials_.end(), [&](const Trial& t) { return t.number == permit.trial_; });
  if (it != trials_.end()) trials_.erase(it);
}

void CircuitBreaker::record(const Permit& permit, bool failed, std::chrono::milliseconds duration, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  advance(now);
  if (!current(permit)) return;  // admitted before the breaker last changed state: tells nothing about now
  bool slow = duration >= config_.slow_call;
  if (state_ == State::kHalfOpen) {
    endTrial(permit);
    if (failed || slow) {
      enter(State::kOpen, now);
    } else if (++trials_succeeded_ >= config_.half_open_calls) {
      enter(State::kClosed, now);
    }
    return;
  }
  window_.push_back({failed, slow});
  while (static_cast<int>(window_.size()) > config_.window_calls) window_.pop_front();
  if (static_cast<int>(window_.size()) < config_.minimum_calls) return;
  double n = static_cast<double>(window_.size());
  double failures = static_cast<double>(std::count_if(window_.begin(), window_.end(), [](const Call& c) { return c.failed; }));
  double slows = static_cast<double>(std::count_if(window_.begin(), window_.end(), [](const Call& c) { return c.slow; }));
  if (failures / n >= config_.failure_rate || slows / n >= config_.slow_call_rate) enter(State::kOpen, now);
}

void CircuitBreaker::release(const Permit& permit) {
  std::lock_guard lock(mutex_);
  if (current(permit) && state_ == State::kHalfOpen) endTrial(permit);
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
