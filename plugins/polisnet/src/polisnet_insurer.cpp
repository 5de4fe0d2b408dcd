#include "polisnet_insurer.hpp"

#include <algorithm>
#include <stdexcept>

namespace osago::plugins::polisnet {
namespace {

using nlohmann::json;
using sdk::PluginError;

json parseBody(const sdk::HttpResponse& response) {
  json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object())
    throw PluginError(OSAGO_STATUS_PERMANENT, "partner answered HTTP " + std::to_string(response.status_code) +
                                                  " with a body that is not a JSON object");
  return body;
}

/// 5xx and 429 are worth retrying; other non-2xx answers are not.
void checkStatus(const sdk::HttpResponse& response, const char* what) {
  int s = response.status_code;
  if (s >= 200 && s < 300) return;
  std::string detail = std::string(what) + ": partner answered HTTP " + std::to_string(s);
  if (s >= 500 || s == 429) throw PluginError(OSAGO_STATUS_TRANSIENT, detail);
  if (s == 400 || s == 422) throw PluginError(OSAGO_STATUS_INVALID_INPUT, detail + " (application rejected: " + response.body.substr(0, 200) + ")");
  throw PluginError(OSAGO_STATUS_PERMANENT, detail);
}

bool isMoney(const std::string& s) {
  auto dot = s.find('.');
  if (dot == std::string::npos || dot == 0 || s.size() - dot != 3) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; }) &&
         s.find('.', dot + 1) == std::string::npos;
}

}  // namespace

PolisNetInsurer::PolisNetInsurer(sdk::Host host, const nlohmann::json& config) : host_(host) {
  if (!config.contains("baseUrl") || !config["baseUrl"].is_string())
    throw std::invalid_argument("config key 'baseUrl' is required (e.g. http://127.0.0.1:8090/severny-shchit)");
  base_url_ = config["baseUrl"].get<std::string>();
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  timeout_ms_ = config.value("timeoutMs", 5000u);
}

sdk::Outcome PolisNetInsurer::submit(const sdk::Call& call, const nlohmann::json& quote) {
  sdk::HttpRequest request;
  request.method = "POST";
  request.url = base_url_ + "/osago/applications";
  request.headers = {{"Content-Type", "application/json"}, {"X-Correlation-Id", call.correlationId()}};
  request.body = quote.dump();
  request.timeout_ms = timeout_ms_;
  return mapSubmitResponse(host_.http(call, request));
}

sdk::Outcome PolisNetInsurer::poll(const sdk::Call& call, const std::string& external_id) {
  sdk::HttpRequest request;
  request.url = base_url_ + "/osago/applications/" + external_id + "/offer";
  request.headers = {{"X-Correlation-Id", call.correlationId()}};
  request.timeout_ms = timeout_ms_;
  return mapOfferResponse(external_id, host_.http(call, request));
}

sdk::Outcome mapSubmitResponse(const sdk::HttpResponse& response) {
  checkStatus(response, "submit");
  json body = parseBody(response);
  auto id = body.find("applicationId");
  if (id == body.end() || !id->is_string() || id->get<std::string>().empty())
    throw PluginError(OSAGO_STATUS_PERMANENT, "submit: partner answer has no applicationId");
  return sdk::Outcome::pending(id->get<std::string>());
}

sdk::Outcome mapOfferResponse(const std::string& external_id, const sdk::HttpResponse& response) {
  checkStatus(response, "offer");
  json body = parseBody(response);
  std::string status = body.value("status", "");
  if (status == "pending") return sdk::Outcome::pending(external_id);
  if (status == "declined")
    return sdk::Outcome::declined(body.value("reason", "DECLINED"), body.value("message", "the insurer declined"));
  if (status == "offer") {
    const json& premium = body.value("premium", json::object());
    std::string amount = premium.value("amount", "");
    if (!isMoney(amount) || premium.value("currency", "") != "RUB")
      throw PluginError(OSAGO_STATUS_PERMANENT, "offer: premium must be a decimal string in RUB, got " + premium.dump());
    json details{{"offerId", body.value("offerId", external_id)}};
    if (body.contains("factors")) details["factors"] = body["factors"];
    return sdk::Outcome::offer(external_id, amount, details);
  }
  throw PluginError(OSAGO_STATUS_PERMANENT, "offer: unknown status '" + status + "'");
}

}  // namespace osago::plugins::polisnet

OSAGO_PLUGIN(osago::plugins::polisnet::PolisNetInsurer, "polisnet", "PolisNet platform adapter", "0.1.0")
