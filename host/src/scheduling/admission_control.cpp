#include "scheduling/admission_control.hpp"

#include <osago/common/metrics.hpp>

#include <Poco/Logger.h>

#include <algorithm>

namespace osago::host {
namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

/// A pool that was not waited for during this long is not under pressure.
constexpr auto kPoolWaitMemory = std::chrono::seconds(1);
/// Weight of the newest wait in the mean (about the last ten acquisitions).
constexpr double kPoolWaitWeight = 0.1;
/// Weight of the newest work item's time in the mean (about the last fifty).
constexpr double kCallWeight = 0.02;

prometheus::Gauge& backlogGauge() {
  static auto& g = metrics::gauge("osago_scheduler_backlog_seconds",
                                  "How long the due partner calls wait to be made, as this instance last claimed them "
                                  "(the fleet's backlog; creates are refused above quotes.admission.max_backlog_ms)")
                       .Add({});
  return g;
}

prometheus::Gauge& sheddingGauge() {
  static auto& g =
      metrics::gauge("osago_admission_shedding", "1 while this instance refuses new quote requests (503), else 0").Add({});
  return g;
}

}  // namespace

void AdmissionControl::observeClaim(milliseconds lateness, bool took_all, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  lateness_ = std::max(milliseconds(0), lateness);
  took_all_ = took_all;
  claimed_at_ = now;
  backlogGauge().Set(static_cast<double>(backlogLocked(now).count()) / 1000.0);
}

void AdmissionControl::observeCall(microseconds took) {
  std::lock_guard lock(mutex_);
  double t = static_cast<double>(took.count());
  call_us_ = call_us_ == 0 ? t : call_us_ + kCallWeight * (t - call_us_);
}

void AdmissionControl::observeDue(long long due, int instances, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  due_ = std::max(0LL, due);
  instances_ = std::max(1, instances);
  due_seen_at_ = now;
  backlogGauge().Set(static_cast<double>(backlogLocked(now).count()) / 1000.0);
}

void AdmissionControl::observePoolWait(microseconds waited, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  double mean = poolWaitLocked(now).count();
  pool_wait_us_ = mean + kPoolWaitWeight * (static_cast<double>(waited.count()) - mean);
  pool_seen_at_ = now;
}

milliseconds AdmissionControl::backlogLocked(Clock::time_point now) const {
  // Claiming all it asked for means more was due: until the next claim, the
  // oldest of it waits on (e.g. every worker is held by a slow partner).
  milliseconds observed = lateness_;
  if (took_all_ && claimed_at_ != Clock::time_point{}) observed += duration_cast<milliseconds>(now - claimed_at_);
  milliseconds predicted{0};
  if (due_seen_at_ != Clock::time_point{} && now - due_seen_at_ <= kDueMemory && workers_ > 0)
    predicted = milliseconds(static_cast<long long>(static_cast<double>(due_) * call_us_ / 1000.0 /
                                                    (static_cast<double>(workers_) * instances_)));
  return std::max(observed, predicted);
}

microseconds AdmissionControl::poolWaitLocked(Clock::time_point now) const {
  if (now - pool_seen_at_ > kPoolWaitMemory) return microseconds(0);
  return microseconds(static_cast<long long>(pool_wait_us_));
}

milliseconds AdmissionControl::backlog(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  return backlogLocked(now);
}

std::optional<AdmissionControl::Refusal> AdmissionControl::refusal(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto backlog = backlogLocked(now);
  auto pool_wait = poolWaitLocked(now);
  // On above the bound, off below half of it: one instance near its bound does
  // not flap between refusing and taking at every claim.
  if (config_.max_backlog.count() > 0) {
    if (backlog > config_.max_backlog) shedding_backlog_ = true;
    else if (backlog < config_.max_backlog / 2) shedding_backlog_ = false;
  } else {
    shedding_backlog_ = false;
  }
  if (config_.max_pool_wait.count() > 0) {
    if (pool_wait > config_.max_pool_wait) shedding_pool_ = true;
    else if (pool_wait < config_.max_pool_wait / 2) shedding_pool_ = false;
  } else {
    shedding_pool_ = false;
  }
  bool shedding = shedding_backlog_ || shedding_pool_;
  sheddingGauge().Set(shedding ? 1 : 0);
  if (shedding != shedding_) {
    // Operators see each change, not each refusal (osago_quote_requests_total{result="shed"} counts those).
    shedding_ = shedding;
    auto& log = Poco::Logger::get("admission");
    if (shedding)
      log.warning("refusing new quote requests (503): due partner calls would wait " + std::to_string(backlog.count()) +
                  " ms (bound " + std::to_string(config_.max_backlog.count()) + "), database connections " +
                  std::to_string(duration_cast<milliseconds>(pool_wait).count()) + " ms (bound " +
                  std::to_string(config_.max_pool_wait.count()) + ")");
    else
      log.information("taking new quote requests again: due partner calls would wait " + std::to_string(backlog.count()) + " ms");
  }
  if (shedding_backlog_) {
    // About when the work in hand will have been caught up with.
    auto seconds = std::clamp<long long>((backlog.count() + 999) / 1000, 1, 30);
    return Refusal{"backlog",
                   "the quote service is at capacity: due partner calls would wait " + std::to_string(backlog.count()) +
                       " ms to be made; try again in " + std::to_string(seconds) + " s",
                   std::chrono::seconds(seconds)};
  }
  if (shedding_pool_) {
    return Refusal{"database_pool",
                   "the quote service is at capacity: its database connections are waited for " +
                       std::to_string(duration_cast<milliseconds>(pool_wait).count()) + " ms on average; try again in 1 s",
                   std::chrono::seconds(1)};
  }
  return std::nullopt;
}

}  // namespace osago::host
