#pragma once

#include <osago/plugin_sdk/plugin.hpp>

#include <string>

namespace osago::plugins::polisnet {

/// Adapter for insurers on the PolisNet platform: POST an application, then
/// GET its offer until it is no longer pending; buying an offer likewise. One instance serves one
/// company; thread-safe (no mutable state).
class PolisNetInsurer {
 public:
  /// `settings`: {"baseUrl": "http://host:port/<company>", "timeoutMs": 5000};
  /// secret "apiKey". Throws naming the missing setting or secret.
  PolisNetInsurer(sdk::Host host, const nlohmann::json& settings);

  sdk::Outcome submit(const sdk::Call& call, const nlohmann::json& quote);
  sdk::Outcome poll(const sdk::Call& call, const std::string& external_id);
  /// Buys an offer: POST /osago/policies (Idempotency-Key: the host's purchaseId), then GET /osago/policies/{id}.
  sdk::PurchaseOutcome issue(const sdk::Call& call, const nlohmann::json& purchase);
  sdk::PurchaseOutcome issuePoll(const sdk::Call& call, const std::string& external_purchase_id);

 private:
  sdk::Host host_;
  std::string base_url_;
  std::string api_key_;
  std::uint32_t timeout_ms_;
};

/// Maps the answer to POST /osago/applications. Throws sdk::PluginError.
sdk::Outcome mapSubmitResponse(const sdk::HttpResponse& response);

/// Maps the answer to POST /osago/policies or GET /osago/policies/{id}. Throws sdk::PluginError.
sdk::PurchaseOutcome mapPolicyResponse(const sdk::HttpResponse& response);

/// Maps the answer to GET /osago/applications/{id}/offer. Throws sdk::PluginError.
sdk::Outcome mapOfferResponse(const std::string& external_id, const sdk::HttpResponse& response);

}  // namespace osago::plugins::polisnet
