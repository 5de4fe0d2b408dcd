#include "resilience/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace osago::core {

void RateLimiter::refill(Bucket& b, double rate, double burst, Clock::time_point now) {
  if (b.at == Clock::time_point{}) b.at = now;
  double seconds = std::chrono::duration<double>(now - b.at).count();
  if (seconds > 0) b.tokens = std::min(burst, b.tokens + seconds * rate);
  b.at = std::max(b.at, now);
}

RateLimiter::Verdict RateLimiter::admit(const std::string& user, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  // Forget users whose bucket has been full again for a while.
  if (now - last_sweep_ > std::chrono::minutes(1)) {
    for (auto it = users_.begin(); it != users_.end();) {
      Bucket b = it->second;
      refill(b, limits_.user_per_second, limits_.user_burst, now);
      it = b.tokens >= limits_.user_burst ? users_.erase(it) : std::next(it);
    }
    last_sweep_ = now;
  }
  auto [it, fresh] = users_.try_emplace(user, Bucket{limits_.user_burst, now});
  Bucket& mine = it->second;
  refill(mine, limits_.user_per_second, limits_.user_burst, now);
  refill(global_, limits_.per_second, limits_.burst, now);
  auto wait = [](const Bucket& b, double rate) {
    return std::chrono::milliseconds(static_cast<long long>(std::ceil((1.0 - b.tokens) / rate * 1000)));
  };
  if (mine.tokens < 1) return {false, false, wait(mine, limits_.user_per_second)};
  if (global_.tokens < 1) return {false, true, wait(global_, limits_.per_second)};
  mine.tokens -= 1;
  global_.tokens -= 1;
  return {};
}

}  // namespace osago::core
