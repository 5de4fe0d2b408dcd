#pragma once

#include <osago/common/circuit_breaker.hpp>
#include <osago/common/http_client.hpp>

#include <chrono>
#include <string>

namespace osago::core {

/// A call refused at once because the downstream service's breaker is open.
class CircuitOpenError : public http::ClientError {
 public:
  explicit CircuitOpenError(const std::string& service)
      : http::ClientError(http::ClientError::Kind::kFailed, service + " is failing; calls to it are paused for a few seconds (circuit open)") {}
};

/// A downstream service core-app calls with a short timeout behind a circuit
/// breaker: while open, calls fail at once instead of waiting out the timeout.
class GuardedEndpoint {
 public:
  GuardedEndpoint(std::string service, BreakerConfig breaker) : service_(std::move(service)), breaker_(breaker) {}

  /// Runs `call` (which returns an http::ClientResponse); no response, or a
  /// 5xx, counts against the breaker — except a 503 with Retry-After: the
  /// service is well and refuses work it cannot take now (load shedding).
  /// Throws CircuitOpenError or the call's ClientError.
  template <typename Call>
  http::ClientResponse run(Call&& call) {
    auto started = std::chrono::steady_clock::now();
    auto permit = breaker_.tryAcquire(started);
    if (!permit) throw CircuitOpenError(service_);
    auto finish = [&](bool failed) {
      auto now = std::chrono::steady_clock::now();
      breaker_.record(permit, failed, std::chrono::duration_cast<std::chrono::milliseconds>(now - started), now);
    };
    try {
      http::ClientResponse r = call();
      finish(r.status >= 500 && !(r.status == 503 && !r.retry_after.empty()));
      return r;
    } catch (const http::ClientError&) {
      finish(true);
      throw;
    }
  }

  CircuitBreaker::State state() { return breaker_.state(std::chrono::steady_clock::now()); }

 private:
  std::string service_;
  CircuitBreaker breaker_;
};

}  // namespace osago::core
