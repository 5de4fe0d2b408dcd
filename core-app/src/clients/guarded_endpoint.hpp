#pragma once

#include <osago/common/circuit_breaker.hpp>
#include <osago/common/http_client.hpp>

#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include <chrono>
#include <map>
#include <string>

namespace osago::core {

/// A call refused at once because the downstream service's breaker is open.
class CircuitOpenError : public http::ClientError {
 public:
  explicit CircuitOpenError(const std::string& service)
      : http::ClientError(http::ClientError::Kind::kFailed, service + " is failing; calls to it are paused for a few seconds (circuit open)") {}
};

/// How a call to a downstream service ended, as osago_core_client_requests_total counts it.
enum class CallOutcome { k2xx, k3xx, k4xx, k5xx, kShed, kTimeout, kFailed, kBreakerOpen };

/// Counts and times core-app's calls to one downstream service
/// (osago_core_client_requests_total by outcome, osago_core_client_request_duration_seconds);
/// the series are made up front, so a call only increments. Thread-safe.
class ClientMetrics {
 public:
  explicit ClientMetrics(const std::string& dependency);
  void count(CallOutcome outcome, std::chrono::steady_clock::duration took);
  static CallOutcome outcomeOf(const http::ClientResponse& r);
  static CallOutcome outcomeOf(const http::ClientError& e);

 private:
  std::map<CallOutcome, prometheus::Counter*> calls_;
  prometheus::Histogram* duration_;
};

/// A downstream service core-app calls with a short timeout behind a circuit
/// breaker: while open, calls fail at once instead of waiting out the timeout.
class GuardedEndpoint {
 public:
  GuardedEndpoint(std::string service, BreakerConfig breaker)
      : service_(std::move(service)), breaker_(breaker), metrics_(service_) {}

  /// Runs `call` (which returns an http::ClientResponse); no response, or a
  /// 5xx, counts against the breaker — except a 503 with Retry-After: the
  /// service is well and refuses work it cannot take now (load shedding).
  /// Throws CircuitOpenError or the call's ClientError.
  template <typename Call>
  http::ClientResponse run(Call&& call) {
    auto started = std::chrono::steady_clock::now();
    auto permit = breaker_.tryAcquire(started);
    if (!permit) {
      metrics_.count(CallOutcome::kBreakerOpen, {});
      throw CircuitOpenError(service_);
    }
    auto finish = [&](bool failed, CallOutcome outcome) {
      auto now = std::chrono::steady_clock::now();
      breaker_.record(permit, failed, std::chrono::duration_cast<std::chrono::milliseconds>(now - started), now);
      metrics_.count(outcome, now - started);
    };
    try {
      http::ClientResponse r = call();
      auto outcome = ClientMetrics::outcomeOf(r);
      finish(outcome == CallOutcome::k5xx, outcome);
      return r;
    } catch (const http::ClientError& e) {
      finish(true, ClientMetrics::outcomeOf(e));
      throw;
    }
  }

  CircuitBreaker::State state() { return breaker_.state(std::chrono::steady_clock::now()); }

 private:
  std::string service_;
  CircuitBreaker breaker_;
  ClientMetrics metrics_;
};

}  // namespace osago::core
