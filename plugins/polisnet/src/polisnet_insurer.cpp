#include "polisnet_insurer.hpp"

#include <osago/plugin_sdk/partner_http.hpp>

namespace osago::plugins::polisnet {

using nlohmann::json;
using sdk::PluginError;

PolisNetInsurer::PolisNetInsurer(sdk::Host host, const nlohmann::json& settings)
    : host_(host),
      base_url_(sdk::requiredSetting(settings, "baseUrl", "http://127.0.0.1:8090/severny-shchit")),
      api_key_(host.secret("apiKey")),
      timeout_ms_(sdk::unsignedSetting(settings, "timeoutMs", 5000)) {}

sdk::Outcome PolisNetInsurer::submit(const sdk::Call& call, const nlohmann::json& quote) {
  sdk::HttpRequest request;
  request.method = "POST";
  request.url = base_url_ + "/osago/applications";
  request.headers = {{"Content-Type", "application/json"}, {"X-Api-Key", api_key_}, {"X-Correlation-Id", call.correlationId()}};
  request.body = quote.dump();
  request.timeout_ms = timeout_ms_;
  return mapSubmitResponse(host_.http(call, request));
}

sdk::Outcome PolisNetInsurer::poll(const sdk::Call& call, const std::string& external_id) {
  sdk::HttpRequest request;
  request.url = base_url_ + "/osago/applications/" + external_id + "/offer";
  request.headers = {{"X-Api-Key", api_key_}, {"X-Correlation-Id", call.correlationId()}};
  request.timeout_ms = timeout_ms_;
  return mapOfferResponse(external_id, host_.http(call, request));
}

sdk::PurchaseOutcome PolisNetInsurer::issue(const sdk::Call& call, const nlohmann::json& purchase) {
  sdk::HttpRequest request;
  request.method = "POST";
  request.url = base_url_ + "/osago/policies";
  // The host's purchase id makes a repeated issue the same purchase at the partner.
  request.headers = {{"Content-Type", "application/json"},
                     {"X-Api-Key", api_key_},
                     {"X-Correlation-Id", call.correlationId()},
                     {"Idempotency-Key", sdk::requiredString(purchase, "purchaseId", "purchase")}};
  json offer = sdk::objectField(purchase, "offer", "purchase");
  json buyer = sdk::objectField(purchase, "buyer", "purchase");
  request.body = json{{"applicationId", sdk::requiredString(purchase, "applicationId", "purchase")},
                      {"offerId", sdk::stringField(offer, "offerId", "purchase offer", "")},
                      {"contacts", {{"email", sdk::requiredString(buyer, "email", "purchase buyer")},
                                    {"phone", sdk::requiredString(buyer, "phone", "purchase buyer")}}}}
                     .dump();
  request.timeout_ms = timeout_ms_;
  return mapPolicyResponse(host_.http(call, request));
}

sdk::PurchaseOutcome PolisNetInsurer::issuePoll(const sdk::Call& call, const std::string& external_purchase_id) {
  sdk::HttpRequest request;
  request.url = base_url_ + "/osago/policies/" + external_purchase_id;
  request.headers = {{"X-Api-Key", api_key_}, {"X-Correlation-Id", call.correlationId()}};
  request.timeout_ms = timeout_ms_;
  return mapPolicyResponse(host_.http(call, request));
}

sdk::PurchaseOutcome mapPolicyResponse(const sdk::HttpResponse& response) {
  sdk::requireSuccess(response, "policy");
  json body = sdk::jsonObject(response, "policy");
  std::string id = sdk::requiredString(body, "policyId", "policy");
  std::string status = sdk::stringField(body, "status", "policy");
  if (status == "pending" || status == "draft" || status == "validation" || status == "calculation")
    return sdk::PurchaseOutcome::pending(id, sdk::retryAfterMs(response));
  if (status == "payment")
    return sdk::PurchaseOutcome::payment(id, sdk::requiredString(body, "paymentUrl", "policy"),
                                         sdk::isoTimeField(body, "paymentExpiresAt", "policy"),
                                         sdk::stringField(body, "draftUrl", "policy", ""));
  if (status == "paid") return sdk::PurchaseOutcome::paid(id);
  if (status == "issued")
    return sdk::PurchaseOutcome::issued(id, sdk::requiredString(body, "policyNumber", "policy"),
                                        sdk::stringField(body, "policyUrl", "policy", ""));
  if (status == "declined")
    return sdk::PurchaseOutcome::declined(sdk::stringField(body, "reason", "policy", "DECLINED"),
                                          sdk::stringField(body, "message", "policy", "the insurer declined"));
  throw PluginError(OSAGO_STATUS_PERMANENT, "policy: unknown status '" + status.substr(0, 64) + "'");
}

sdk::Outcome mapSubmitResponse(const sdk::HttpResponse& response) {
  sdk::requireSuccess(response, "submit");
  return sdk::Outcome::pending(sdk::requiredString(sdk::jsonObject(response, "submit"), "applicationId", "submit"));
}

sdk::Outcome mapOfferResponse(const std::string& external_id, const sdk::HttpResponse& response) {
  sdk::requireSuccess(response, "offer");
  json body = sdk::jsonObject(response, "offer");
  std::string status = sdk::stringField(body, "status", "offer");
  if (status == "pending") return sdk::Outcome::pending(external_id);
  if (status == "declined")
    return sdk::Outcome::declined(sdk::stringField(body, "reason", "offer", "DECLINED"),
                                  sdk::stringField(body, "message", "offer", "the insurer declined"));
  if (status == "offer") {
    json premium = sdk::objectField(body, "premium", "offer");
    std::string amount = sdk::stringField(premium, "amount", "offer premium");
    if (!sdk::isRublesAmount(amount) || sdk::stringField(premium, "currency", "offer premium") != "RUB")
      throw PluginError(OSAGO_STATUS_PERMANENT, "offer: premium must be a decimal string in RUB, got " + premium.dump().substr(0, 200));
    json details{{"offerId", sdk::stringField(body, "offerId", "offer", external_id)}};
    if (body.contains("factors")) details["factors"] = body["factors"];
    return sdk::Outcome::offer(external_id, amount, details);
  }
  throw PluginError(OSAGO_STATUS_PERMANENT, "offer: unknown status '" + status.substr(0, 64) + "'");
}

}  // namespace osago::plugins::polisnet

OSAGO_PLUGIN(osago::plugins::polisnet::PolisNetInsurer, "polisnet", "PolisNet platform adapter", "0.3.0")
