#pragma once

#include <osago/common/yaml_config.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

namespace osago {

/// Settings of a circuit breaker (for a partner: its manifest key `breaker`).
struct BreakerConfig {
  int window_calls = 20;                          ///< sliding window: the last N calls
  int minimum_calls = 10;                         ///< no verdict on fewer calls
  double failure_rate = 0.5;                      ///< open at this share of failed calls
  double slow_call_rate = 0.8;                    ///< open at this share of slow calls
  std::chrono::milliseconds slow_call{10000};     ///< a call slower than this is slow
  std::chrono::milliseconds open_wait{30000};     ///< how long to stay open before trying again
  int half_open_calls = 3;                        ///< trial calls allowed when half-open
  std::chrono::milliseconds half_open_max{20000}; ///< a half-open trial that hangs longer reopens the breaker

  /// Reads the keys window_calls, minimum_calls, failure_rate, slow_call_rate,
  /// slow_call_ms, open_ms, half_open_calls, half_open_max_ms from `section`
  /// (absent keys keep `defaults`), checks them and finishes the section.
  /// Throws ConfigError.
  static BreakerConfig read(config::Section& section, const BreakerConfig& defaults);
};

/// A circuit breaker over a count-based sliding window (the
/// resilience4j model): CLOSED lets calls through and records them; when the
/// failure rate or the slow-call rate of the window reaches its threshold it
/// OPENs and refuses calls for `open_wait`; then HALF_OPEN lets a few trial
/// calls through — all good closes it, any failure (or a trial that hangs past
/// `half_open_max` from its own start) opens it again.
///
/// Each admitted call holds a Permit naming the state round it was admitted
/// in: a call admitted while CLOSED that ends after the breaker opened (or
/// half-opened) is no trial and is not counted; a trial's hang bound runs from
/// that trial's start, however long the breaker sat half-open before it.
/// Time is passed in, so it is testable without sleeping. Thread-safe.
class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State { kClosed, kOpen, kHalfOpen };

  /// The right to make one call; false when the breaker refused it.
  class Permit {
   public:
    explicit operator bool() const { return admitted_; }

   private:
    friend class CircuitBreaker;
    bool admitted_ = false;
    std::uint64_t round_ = 0;  // the state round (CLOSED or HALF_OPEN spell) it was admitted in
    std::uint64_t trial_ = 0;  // a half-open trial's number, 0 for a call admitted while closed
  };

  explicit CircuitBreaker(BreakerConfig config);

  /// Whether a call may start now; an admitted call must be ended with record() or release().
  Permit tryAcquire(Clock::time_point now);
  /// Reports the end of an admitted call. A call from an earlier round is not counted.
  void record(const Permit& permit, bool failed, std::chrono::milliseconds duration, Clock::time_point now);
  /// Gives back a permit whose call never started (e.g. the bulkhead was full).
  void release(const Permit& permit);
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
  struct Trial {
    std::uint64_t number;
    Clock::time_point started;
  };
  void advance(Clock::time_point now);  // OPEN → HALF_OPEN after the wait; a hanging trial reopens
  void enter(State state, Clock::time_point now);
  bool current(const Permit& permit) const { return permit.admitted_ && permit.round_ == round_; }
  void endTrial(const Permit& permit);

  BreakerConfig config_;
  std::mutex mutex_;
  State state_ = State::kClosed;
  std::uint64_t round_ = 1;  // grows on every change of state: permits of an earlier round are stale
  std::deque<Call> window_;
  Clock::time_point opened_at_{};
  std::vector<Trial> trials_;  // half-open trials in flight, each with its own start
  std::uint64_t next_trial_ = 1;
  int trials_succeeded_ = 0;
};

}  // namespace osago
