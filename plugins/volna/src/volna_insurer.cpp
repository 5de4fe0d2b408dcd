#include "volna_insurer.hpp"

#include <osago/plugin_sdk/partner_http.hpp>

namespace osago::plugins::volna {

using nlohmann::json;
using sdk::PluginError;

VolnaInsurer::VolnaInsurer(sdk::Host host, const nlohmann::json& settings)
    : host_(host),
      base_url_(sdk::requiredSetting(settings, "baseUrl", "http://127.0.0.1:8090/sibir-rezerv")),
      api_key_(host.secret("apiKey")),
      timeout_ms_(sdk::unsignedSetting(settings, "timeoutMs", 5000)) {}

sdk::Outcome VolnaInsurer::submit(const sdk::Call& call, const nlohmann::json& quote) {
  sdk::HttpRequest request;
  request.method = "POST";
  request.url = base_url_ + "/osago/applications";
  request.headers = {{"Content-Type", "application/json"}, {"Authorization", "ApiKey " + api_key_}};
  request.body = quote.dump();
  request.timeout_ms = timeout_ms_;
  return mapApplicationResponse("", host_.http(call, request));
}

sdk::Outcome VolnaInsurer::poll(const sdk::Call& call, const std::string& external_id) {
  sdk::HttpRequest request;
  request.url = base_url_ + "/osago/applications/" + external_id + "/offer";
  request.headers = {{"Authorization", "ApiKey " + api_key_}};
  request.timeout_ms = timeout_ms_;
  return mapApplicationResponse(external_id, host_.http(call, request));
}

sdk::PurchaseOutcome VolnaInsurer::issue(const sdk::Call& call, const nlohmann::json& purchase) {
  json offer = sdk::objectField(purchase, "offer", "purchase");
  json buyer = sdk::objectField(purchase, "buyer", "purchase");
  sdk::HttpRequest request;
  request.method = "POST";
  request.url = base_url_ + "/osago/policies";
  request.headers = {{"Content-Type", "application/json"},
                     {"Authorization", "ApiKey " + api_key_},
                     {"X-Request-Id", sdk::requiredString(purchase, "purchaseId", "purchase")}};
  request.body = json{{"quoteRef", sdk::requiredString(offer, "offerId", "purchase offer")},
                      {"buyer", {{"mail", sdk::requiredString(buyer, "email", "purchase buyer")},
                                 {"tel", sdk::requiredString(buyer, "phone", "purchase buyer")}}}}
                     .dump();
  request.timeout_ms = timeout_ms_;
  return mapPurchaseResponse(host_.http(call, request));
}

sdk::PurchaseOutcome VolnaInsurer::issuePoll(const sdk::Call& call, const std::string& external_purchase_id) {
  sdk::HttpRequest request;
  request.url = base_url_ + "/osago/policies/" + external_purchase_id;
  request.headers = {{"Authorization", "ApiKey " + api_key_}};
  request.timeout_ms = timeout_ms_;
  return mapPurchaseResponse(host_.http(call, request));
}

sdk::PurchaseOutcome mapPurchaseResponse(const sdk::HttpResponse& response) {
  if (response.status_code == 401 || response.status_code == 403)
    throw PluginError(OSAGO_STATUS_PERMANENT, "the partner refused our API key (check the apiKey secret)");
  sdk::requireSuccess(response, "purchase");
  json body = sdk::jsonObject(response, "purchase");
  std::string id = sdk::requiredString(body, "id", "purchase");
  std::string state = sdk::stringField(body, "state", "purchase");
  if (state == "checking") return sdk::PurchaseOutcome::pending(id, sdk::retryAfterMs(response));
  if (state == "awaiting_payment") {
    json pay = sdk::objectField(body, "pay", "purchase");
    return sdk::PurchaseOutcome::payment(id, sdk::requiredString(pay, "url", "purchase pay"),
                                         sdk::isoTimeField(pay, "till", "purchase pay"));
  }
  if (state == "paid") return sdk::PurchaseOutcome::paid(id);
  if (state == "done") {
    json policy = sdk::objectField(body, "policy", "purchase");
    return sdk::PurchaseOutcome::issued(id, sdk::requiredString(policy, "no", "purchase policy"),
                                        sdk::stringField(policy, "pdf", "purchase policy", ""));
  }
  if (state == "rejected")
    return sdk::PurchaseOutcome::declined(sdk::stringField(body, "why", "purchase", "REJECTED"),
                                          sdk::stringField(body, "comment", "purchase", "the insurer declined"));
  throw PluginError(OSAGO_STATUS_PERMANENT, "purchase: unknown state '" + state.substr(0, 64) + "'");
}

sdk::Outcome mapApplicationResponse(const std::string& known_id, const sdk::HttpResponse& response) {
  if (response.status_code == 401 || response.status_code == 403)
    throw PluginError(OSAGO_STATUS_PERMANENT, "the partner refused our API key (check the apiKey secret)");
  sdk::requireSuccess(response, "application");
  json body = sdk::jsonObject(response, "application");
  std::string id = known_id.empty() ? sdk::requiredString(body, "id", "application") : known_id;
  std::string state = sdk::stringField(body, "state", "application");
  if (state == "processing" || state == "hold") return sdk::Outcome::pending(id, sdk::retryAfterMs(response));
  if (state == "rejected")
    return sdk::Outcome::declined(sdk::stringField(body, "why", "application", "REJECTED"),
                                  sdk::stringField(body, "comment", "application", "the insurer declined"));
  if (state == "error")
    throw PluginError(OSAGO_STATUS_PERMANENT, "the partner could not process the application: " +
                                                  sdk::stringField(body, "errorText", "application", "no text").substr(0, 300));
  if (state == "done") {
    json price = sdk::objectField(body, "price", "application");
    std::string value = sdk::stringField(price, "value", "application price");
    std::string currency = sdk::stringField(price, "cur", "application price");
    if (!sdk::isRublesAmount(value) || (currency != "RUR" && currency != "RUB"))
      throw PluginError(OSAGO_STATUS_PERMANENT, "offer: price must be a decimal string in rubles, got " + price.dump().substr(0, 200));
    return sdk::Outcome::offer(id, value, {{"offerId", sdk::stringField(body, "quoteRef", "application", id)}});
  }
  throw PluginError(OSAGO_STATUS_PERMANENT, "application: unknown state '" + state.substr(0, 64) + "'");
}

}  // namespace osago::plugins::volna

OSAGO_PLUGIN(osago::plugins::volna::VolnaInsurer, "volna", "Volna platform adapter", "0.2.0")
