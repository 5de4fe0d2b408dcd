#pragma once

#include <osago/plugin_sdk/plugin.hpp>

#include <cstdint>
#include <string>

namespace osago::plugins::volna {

/// Adapter for insurers on the Volna platform: "Authorization: ApiKey …",
/// application states processing / hold / done / rejected / error, prices as
/// {"value": "12371.81", "cur": "RUR"}, Retry-After (seconds) while pending.
/// Thread-safe (no mutable state).
class VolnaInsurer {
 public:
  /// `settings`: {"baseUrl", "timeoutMs"}; secret "apiKey".
  VolnaInsurer(sdk::Host host, const nlohmann::json& settings);

  sdk::Outcome submit(const sdk::Call& call, const nlohmann::json& quote);
  sdk::Outcome poll(const sdk::Call& call, const std::string& external_id);
  /// Buys an offer: POST /osago/policies (X-Request-Id: the host's purchaseId), then GET /osago/policies/{id}.
  sdk::PurchaseOutcome issue(const sdk::Call& call, const nlohmann::json& purchase);
  sdk::PurchaseOutcome issuePoll(const sdk::Call& call, const std::string& external_purchase_id);

 private:
  sdk::Host host_;
  std::string base_url_;
  std::string api_key_;
  std::uint32_t timeout_ms_;
};

/// Maps the answer to POST /osago/policies or GET /osago/policies/{id}: states checking,
/// awaiting_payment, paid, done, rejected. Throws sdk::PluginError.
sdk::PurchaseOutcome mapPurchaseResponse(const sdk::HttpResponse& response);

/// Maps any Volna application answer (submit or poll). Throws sdk::PluginError.
sdk::Outcome mapApplicationResponse(const std::string& known_id, const sdk::HttpResponse& response);

}  // namespace osago::plugins::volna
