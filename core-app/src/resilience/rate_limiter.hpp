#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace osago::core {

/// Settings of the API's rate limits (config key `limits`), per core-app instance.
struct RateLimits {
  double user_per_second = 5;   ///< each user's sustained rate
  double user_burst = 20;       ///< and how many at once
  double per_second = 500;      ///< every user together
  double burst = 1000;
};

/// Token buckets: one per user and one for everyone. A call takes a token
/// from both or from neither; when either is empty the caller learns how long
/// until one is back (for Retry-After). Idle users' buckets are forgotten.
/// Time is passed in, so it is testable without sleeping. Thread-safe.
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  struct Verdict {
    bool allowed = true;
    bool global = false;                    ///< refused by the limit for everyone (else the user's)
    std::chrono::milliseconds retry_after{0};
  };

  explicit RateLimiter(RateLimits limits) : limits_(limits), global_{limits.burst, {}} {}

  Verdict admit(const std::string& user, Clock::time_point now);

 private:
  struct Bucket {
    double tokens;
    Clock::time_point at;
  };
  static void refill(Bucket& b, double rate, double burst, Clock::time_point now);

  RateLimits limits_;
  std::mutex mutex_;
  Bucket global_;
  std::unordered_map<std::string, Bucket> users_;
  Clock::time_point last_sweep_{};
};

}  // namespace osago::core
