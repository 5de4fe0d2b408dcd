#pragma once

#include "clients/guarded_endpoint.hpp"

#include <osago/common/http_client.hpp>
#include <osago/common/signed_tokens.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace osago::core {

/// A response of osago-aggregator passed on as it is.
struct AggregatorAnswer {
  int status = 0;
  nlohmann::json body;
  std::string retry_after;  ///< its Retry-After header, if any
};

/// Calls osago-aggregator's REST API with a short timeout behind a circuit
/// breaker, each call with a short-lived service token signed with
/// `service_secret` (sub core-app, aud osago-aggregator). Thread-safe. Throws http::ClientError when the aggregator does not
/// answer in time (CircuitOpenError while the breaker is open).
class AggregatorClient {
 public:
  AggregatorClient(std::string base_url, std::string service_secret, std::chrono::milliseconds timeout,
                   BreakerConfig breaker = {});

  /// Creates a request; a non-empty `idempotency_key` is sent as the Idempotency-Key header.
  /// `traceparent`: the W3C header the aggregator continues the quote's trace from.
  AggregatorAnswer createRequest(const nlohmann::json& body, const std::string& idempotency_key = {},
                                 const std::string& traceparent = {});
  /// Buys a company's offer (POST /osago/requests/{id}/companies/{companyId}/purchase); `company_id` must be URL-safe.
  AggregatorAnswer purchase(const std::string& request_id, const std::string& company_id, const nlohmann::json& body,
                            const std::string& idempotency_key = {}, const std::string& traceparent = {});
  /// The stored request, or nullopt when the aggregator does not know it.
  std::optional<nlohmann::json> getRequest(const std::string& request_id);
  CircuitBreaker::State breakerState() { return endpoint_.state(); }

 private:
  AggregatorAnswer post(const std::string& path, const nlohmann::json& body, const std::string& idempotency_key,
                        const std::string& traceparent, const std::string& what);

  std::string base_url_;
  auth::ServiceTokenIssuer service_token_;
  std::chrono::milliseconds timeout_;
  GuardedEndpoint endpoint_;
};

}  // namespace osago::core
