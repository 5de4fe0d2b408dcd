#include "polisnet_insurer.hpp"

#include <osago/plugin_sdk/partner_http.hpp>

namespace osago::plugins::polisnet {

using nlohmann::json;
using sdk::PluginError;

PolisNetInsurer::PolisNetInsurer(sdk::Host host, const nlohmann::json& settings)
    : host_(host),
      base_url_(sdk::requiredSetting(settings, "baseUrl", "http://127.0.0.1:8090/severny-shchit")),
      api_key_(host.secret("apiKey")),
      timeout_ms_(settings.value("timeoutMs", 5000u)) {}

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

sdk::Outcome mapSubmitResponse(const sdk::HttpResponse& response) {
  sdk::requireSuccess(response, "submit");
  return sdk::Outcome::pending(sdk::requiredString(sdk::jsonObject(response, "submit"), "applicationId", "submit"));
}

sdk::Outcome mapOfferResponse(const std::string& external_id, const sdk::HttpResponse& response) {
  sdk::requireSuccess(response, "offer");
  json body = sdk::jsonObject(response, "offer");
  std::string status = body.value("status", "");
  if (status == "pending") return sdk::Outcome::pending(external_id);
  if (status == "declined")
    return sdk::Outcome::declined(body.value("reason", "DECLINED"), body.value("message", "the insurer declined"));
  if (status == "offer") {
    const json& premium = body.value("premium", json::object());
    std::string amount = premium.value("amount", "");
    if (!sdk::isRublesAmount(amount) || premium.value("currency", "") != "RUB")
      throw PluginError(OSAGO_STATUS_PERMANENT, "offer: premium must be a decimal string in RUB, got " + premium.dump());
    json details{{"offerId", body.value("offerId", external_id)}};
    if (body.contains("factors")) details["factors"] = body["factors"];
    return sdk::Outcome::offer(external_id, amount, details);
  }
  throw PluginError(OSAGO_STATUS_PERMANENT, "offer: unknown status '" + status + "'");
}

}  // namespace osago::plugins::polisnet

OSAGO_PLUGIN(osago::plugins::polisnet::PolisNetInsurer, "polisnet", "PolisNet platform adapter", "0.2.0")
