#pragma once

#include <osago/plugin_sdk/plugin.hpp>

#include <cstdint>
#include <mutex>
#include <string>

namespace osago::plugins::garant {

/// Adapter for insurers on the Garant platform: an OAuth-style access token
/// (fetched with client id and secret, refreshed on expiry or on a 401),
/// snake_case applications, premiums in kopecks, HTTP 202 with Retry-After
/// while an application is pending. Thread-safe (the token is shared under a mutex).
class GarantInsurer {
 public:
  /// `settings`: {"baseUrl", "clientId", "timeoutMs"}; secret "clientSecret".
  GarantInsurer(sdk::Host host, const nlohmann::json& settings);

  sdk::Outcome submit(const sdk::Call& call, const nlohmann::json& quote);
  sdk::Outcome poll(const sdk::Call& call, const std::string& external_id);
  /// Buys an offer: POST /osago/policies (request_id: the host's purchaseId), then GET /osago/policies/{id}.
  sdk::PurchaseOutcome issue(const sdk::Call& call, const nlohmann::json& purchase);
  sdk::PurchaseOutcome issuePoll(const sdk::Call& call, const std::string& external_purchase_id);

 private:
  /// Sends `request` with a valid token; on a 401 fetches a new token and tries once more.
  sdk::HttpResponse authorized(const sdk::Call& call, sdk::HttpRequest request);
  std::string token(const sdk::Call& call, bool force_new);

  sdk::Host host_;
  std::string base_url_;
  std::string client_id_;
  std::string client_secret_;
  std::uint32_t timeout_ms_;
  std::mutex mutex_;
  std::string token_;
  std::int64_t token_expires_ms_ = 0;
};

/// The Garant application for a canonical quote input (snake_case field names).
nlohmann::json toGarantApplication(const nlohmann::json& quote);

/// Maps the answer to POST /osago/policies or GET /osago/policies/{id} (202 + Retry-After while
/// VALIDATION; seconds for the payment deadline; series and number apart). Throws sdk::PluginError.
sdk::PurchaseOutcome mapPolicyResponse(const std::string& known_id, const sdk::HttpResponse& response);

/// Maps the answer to POST /osago/applications. Throws sdk::PluginError.
sdk::Outcome mapSubmitResponse(const sdk::HttpResponse& response);

/// Maps the answer to GET /osago/applications/{id}/offer. Throws sdk::PluginError.
sdk::Outcome mapOfferResponse(const std::string& external_id, const sdk::HttpResponse& response);

}  // namespace osago::plugins::garant
