#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

namespace osago::host {

/// When new quote requests are refused (quotes.admission in the config).
struct AdmissionConfig {
  /// Refuse creates while the due partner calls wait longer than this to be
  /// made (the backlog); take them again once it is under half. 0: never refuse.
  std::chrono::milliseconds max_backlog{2000};
  /// Refuse creates while the API's database connections are waited for this
  /// long on average (the last second's acquisitions). 0: never refuse for it.
  std::chrono::milliseconds max_pool_wait{500};
};

/// Decides whether this instance can take a new quote request and still serve
/// it within its deadline. Measured, not a fixed rate. The backlog is the
/// longer of two estimates of how long due partner calls wait to be made:
/// * observed: how late the due work the scheduler claims is (claims take the
///   longest-waiting first from the whole fleet's table);
/// * predicted: the due calls not yet claimed, times this instance's mean time
///   per call, over its workers and the live instances (assumed alike). A
///   burst of creates shows here at once, before any of its calls has aged.
/// The API reports how long it waited for database connections. While either
/// is over its bound a create is refused at once (503 + Retry-After) and the
/// work already accepted keeps the workers. Thread-safe.
class AdmissionControl {
 public:
  using Clock = std::chrono::steady_clock;

  /// `workers`: this instance's scheduler workers (quotes.workers).
  AdmissionControl(AdmissionConfig config, int workers) : config_(config), workers_(workers) {}

  /// After each claim: how long the longest-waiting claimed item was due
  /// (0 if nothing was due) and whether the claim took as many as it asked
  /// for (then more is likely due, and the backlog grows until the next claim).
  void observeClaim(std::chrono::milliseconds lateness, bool took_all, Clock::time_point now);
  /// After each work item a worker finished: how long it took (the call and its record).
  void observeCall(std::chrono::microseconds took);
  /// Now and then: the fleet's due calls no instance has claimed, and how many
  /// instances are live to make them.
  void observeDue(long long due, int instances, Clock::time_point now);
  /// After each wait of the API for a database connection.
  void observePoolWait(std::chrono::microseconds waited, Clock::time_point now);

  struct Refusal {
    std::string reason;       ///< "backlog" or "database_pool" (a metric label)
    std::string message;      ///< for the caller, in English
    std::chrono::seconds retry_after{1};
  };
  /// Why a create must be refused now, or nothing.
  std::optional<Refusal> refusal(Clock::time_point now);

  /// The backlog estimate now (also the osago_scheduler_backlog_seconds gauge).
  std::chrono::milliseconds backlog(Clock::time_point now);

  /// A count of due calls older than this is not used for the prediction.
  static constexpr std::chrono::seconds kDueMemory{2};

 private:
  std::chrono::milliseconds backlogLocked(Clock::time_point now) const;
  std::chrono::microseconds poolWaitLocked(Clock::time_point now) const;

  AdmissionConfig config_;
  int workers_;
  std::mutex mutex_;
  double call_us_ = 0;                ///< exponentially weighted mean time per work item
  long long due_ = 0;                 ///< unclaimed due calls, as last counted
  int instances_ = 1;
  Clock::time_point due_seen_at_{};
  std::chrono::milliseconds lateness_{0};
  bool took_all_ = false;
  Clock::time_point claimed_at_{};
  double pool_wait_us_ = 0;           ///< exponentially weighted mean of recent waits
  Clock::time_point pool_seen_at_{};
  bool shedding_backlog_ = false;     ///< hysteresis: on above max, off below max/2
  bool shedding_pool_ = false;
  bool shedding_ = false;             ///< either: logged when it changes
};

}  // namespace osago::host
