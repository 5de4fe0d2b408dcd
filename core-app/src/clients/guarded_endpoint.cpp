#include "clients/guarded_endpoint.hpp"

#include <osago/common/metrics.hpp>

namespace osago::core {

ClientMetrics::ClientMetrics(const std::string& dependency) {
  static auto& calls = metrics::counter(
      "osago_core_client_requests_total",
      "core-app's calls to the services it depends on, by dependency and outcome (2xx-5xx; shed: 503 with Retry-After; "
      "timeout; failed: no answer; breaker_open: refused at once, the dependency's breaker is open)");
  static auto& durations = metrics::histogram("osago_core_client_request_duration_seconds",
                                              "Time of core-app's calls that were sent, by dependency");
  const std::pair<CallOutcome, const char*> names[] = {
      {CallOutcome::k2xx, "2xx"},         {CallOutcome::k3xx, "3xx"},         {CallOutcome::k4xx, "4xx"},
      {CallOutcome::k5xx, "5xx"},         {CallOutcome::kShed, "shed"},       {CallOutcome::kTimeout, "timeout"},
      {CallOutcome::kFailed, "failed"},   {CallOutcome::kBreakerOpen, "breaker_open"}};
  for (const auto& [outcome, name] : names) calls_[outcome] = &calls.Add({{"dependency", dependency}, {"outcome", name}});
  duration_ = &durations.Add({{"dependency", dependency}}, metrics::requestBuckets());
}

void ClientMetrics::count(CallOutcome outcome, std::chrono::steady_clock::duration took) {
  calls_.at(outcome)->Increment();
  if (outcome != CallOutcome::kBreakerOpen) duration_->Observe(std::chrono::duration<double>(took).count());
}

CallOutcome ClientMetrics::outcomeOf(const http::ClientResponse& r) {
  if (r.status == 503 && !r.retry_after.empty()) return CallOutcome::kShed;  // well, and refusing work it cannot take now
  if (r.status >= 500) return CallOutcome::k5xx;
  if (r.status >= 400) return CallOutcome::k4xx;
  if (r.status >= 300) return CallOutcome::k3xx;
  return CallOutcome::k2xx;
}

CallOutcome ClientMetrics::outcomeOf(const http::ClientError& e) {
  return e.timedOut() ? CallOutcome::kTimeout : CallOutcome::kFailed;
}

}  // namespace osago::core
