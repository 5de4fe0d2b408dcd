#pragma once

#include <osago/plugin_sdk/plugin.hpp>

#include <cstdint>
#include <string>

namespace osago::plugins::potok {

/// Adapter for insurers on the Potok platform, whose API is asynchronous:
/// each call says how long it is willing to wait (`desired-timeout`, seconds,
/// within the host's budget for the call); what the insurer finishes by then
/// is answered at once, anything else with `202 {"draftId", "href"}` — an
/// operation polled at `/sales/v2/operations?oper_id=…` (itself waiting up to
/// `desired-timeout`). A 504 on a poll means "still running, come back in 60 s".
/// Sells policies too. Thread-safe (no mutable state).
class PotokInsurer {
 public:
  /// `settings`: {"baseUrl", "timeoutMs" (5000), "maxHoldSeconds" (3)}; secret "apiKey".
  PotokInsurer(sdk::Host host, const nlohmann::json& settings);

  sdk::Outcome submit(const sdk::Call& call, const nlohmann::json& quote);
  sdk::Outcome poll(const sdk::Call& call, const std::string& external_id);
  sdk::PurchaseOutcome issue(const sdk::Call& call, const nlohmann::json& purchase);
  sdk::PurchaseOutcome issuePoll(const sdk::Call& call, const std::string& external_purchase_id);

 private:
  /// A request with the API key and the `desired-timeout` this call can afford.
  sdk::HttpRequest request(const sdk::Call& call, const char* method, const std::string& path) const;

  sdk::Host host_;
  std::string base_url_;
  std::string api_key_;
  std::uint32_t timeout_ms_;
  std::uint32_t max_hold_s_;
};

/// How long a call may ask the partner to hold it: what is left of its budget
/// less 1.5 s for the answer to travel, in whole seconds, 0 to `max_hold_s`.
std::int64_t holdSeconds(std::int64_t deadline_unix_ms, std::int64_t now_unix_ms, std::uint32_t max_hold_s);

/// Maps a calculation's answer (POST /sales/v2/calculations, or an operation's). Throws sdk::PluginError.
sdk::Outcome mapCalculation(const std::string& known_id, const sdk::HttpResponse& response);

/// Maps a purchase's answer (POST /sales/v2/policies, GET /sales/v2/policies/{id}). Throws sdk::PluginError.
sdk::PurchaseOutcome mapPolicy(const std::string& known_id, const sdk::HttpResponse& response);

}  // namespace osago::plugins::potok
