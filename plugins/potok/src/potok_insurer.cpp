#include "potok_insurer.hpp"

#include <osago/plugin_sdk/partner_http.hpp>

#include <algorithm>

namespace osago::plugins::potok {

using nlohmann::json;
using sdk::PluginError;

namespace {

/// "Still running: come back in 60 s", as the partner's gateway says it with a 504.
constexpr std::int64_t kGatewayRetryMs = 60'000;

/// The operation id in a 202's body: draftId, else oper_id of its href.
std::string draftOf(const json& body, const std::string& what) {
  std::string draft = sdk::stringField(body, "draftId", what, "");
  if (!draft.empty()) return draft;
  std::string href = sdk::requiredString(body, "href", what);
  auto at = href.find("oper_id=");
  if (at == std::string::npos || at + 8 >= href.size())
    throw PluginError(OSAGO_STATUS_PERMANENT, what + ": the partner's 202 names no operation: '" + href.substr(0, 100) + "'");
  return href.substr(at + 8, href.find('&', at) - at - 8);
}

}  // namespace

PotokInsurer::PotokInsurer(sdk::Host host, const nlohmann::json& settings)
    : host_(host),
      base_url_(sdk::requiredSetting(settings, "baseUrl", "https://127.0.0.1:8093/kamskaya")),
      api_key_(host.secret("apiKey")),
      timeout_ms_(sdk::unsignedSetting(settings, "timeoutMs", 5000)),
      max_hold_s_(sdk::unsignedSetting(settings, "maxHoldSeconds", 3, 30)) {}

std::int64_t holdSeconds(std::int64_t deadline_unix_ms, std::int64_t now_unix_ms, std::uint32_t max_hold_s) {
  return std::clamp<std::int64_t>((deadline_unix_ms - now_unix_ms - 1500) / 1000, 0, max_hold_s);
}

sdk::HttpRequest PotokInsurer::request(const sdk::Call& call, const char* method, const std::string& path) const {
  sdk::HttpRequest r;
  r.method = method;
  r.url = base_url_ + path;
  r.headers = {{"Authorization", "Token " + api_key_},
               {"desired-timeout", std::to_string(holdSeconds(call.deadlineUnixMs(), host_.nowUnixMs(), max_hold_s_))},
               {"X-Correlation-Id", call.correlationId()}};
  r.timeout_ms = timeout_ms_;
  return r;
}

sdk::Outcome PotokInsurer::submit(const sdk::Call& call, const nlohmann::json& quote) {
  auto r = request(call, "POST", "/sales/v2/calculations");
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = quote.dump();
  return mapCalculation("", host_.http(call, r));
}

sdk::Outcome PotokInsurer::poll(const sdk::Call& call, const std::string& external_id) {
  return mapCalculation(external_id, host_.http(call, request(call, "GET", "/sales/v2/operations?oper_id=" + external_id)));
}

sdk::PurchaseOutcome PotokInsurer::issue(const sdk::Call& call, const nlohmann::json& purchase) {
  json buyer = sdk::objectField(purchase, "buyer", "purchase");
  auto r = request(call, "POST", "/sales/v2/policies");
  r.headers.emplace_back("Content-Type", "application/json");
  // clientRequestId: the host's purchase id, so a repeated issue is the same purchase there.
  r.body = json{{"calculationId", sdk::requiredString(purchase, "applicationId", "purchase")},
                {"clientRequestId", sdk::requiredString(purchase, "purchaseId", "purchase")},
                {"contacts", {{"email", sdk::requiredString(buyer, "email", "purchase buyer")},
                              {"phone", sdk::requiredString(buyer, "phone", "purchase buyer")}}}}
               .dump();
  return mapPolicy("", host_.http(call, r));
}

sdk::PurchaseOutcome PotokInsurer::issuePoll(const sdk::Call& call, const std::string& external_purchase_id) {
  return mapPolicy(external_purchase_id, host_.http(call, request(call, "GET", "/sales/v2/policies/" + external_purchase_id)));
}

sdk::Outcome mapCalculation(const std::string& known_id, const sdk::HttpResponse& response) {
  if (response.status_code == 504 && !known_id.empty()) return sdk::Outcome::pending(known_id, kGatewayRetryMs);
  if (response.status_code == 401 || response.status_code == 403)
    throw PluginError(OSAGO_STATUS_PERMANENT, "the partner refused our API key (check the apiKey secret)");
  sdk::requireSuccess(response, "calculation");
  json body = sdk::jsonObject(response, "calculation");
  if (response.status_code == 202) return sdk::Outcome::pending(draftOf(body, "calculation"), 1000);
  std::string status = sdk::stringField(body, "status", "calculation");
  if (status == "RUNNING") return sdk::Outcome::pending(known_id.empty() ? draftOf(body, "calculation") : known_id,
                                                        sdk::retryAfterMs(response));
  if (status != "DONE") throw PluginError(OSAGO_STATUS_PERMANENT, "calculation: unknown status '" + status.substr(0, 64) + "'");
  std::string id = known_id.empty() ? sdk::requiredString(body, "calculationId", "calculation") : known_id;
  json result = sdk::objectField(body, "result", "calculation");
  std::string outcome = sdk::stringField(result, "outcome", "calculation result");
  if (outcome == "REFUSED") {
    json refusal = sdk::objectField(result, "refusal", "calculation result");
    return sdk::Outcome::declined(sdk::stringField(refusal, "code", "refusal", "REFUSED"),
                                  sdk::stringField(refusal, "text", "refusal", "the insurer declined"));
  }
  if (outcome != "QUOTED")
    throw PluginError(OSAGO_STATUS_PERMANENT, "calculation: unknown outcome '" + outcome.substr(0, 64) + "'");
  std::int64_t kopecks = sdk::integerField(result, "premiumKopecks", "calculation result", 0);
  if (kopecks <= 0 || kopecks > 100'000'000'000LL)
    throw PluginError(OSAGO_STATUS_PERMANENT, "calculation: premiumKopecks must be a positive number of kopecks");
  json details{{"offerId", id}};
  if (result.contains("tariff") && result["tariff"].is_object()) details["factors"] = result["tariff"];
  return sdk::Outcome::offer(id, sdk::rublesFromKopecks(kopecks), details);
}

sdk::PurchaseOutcome mapPolicy(const std::string& known_id, const sdk::HttpResponse& response) {
  if (response.status_code == 504 && !known_id.empty()) return sdk::PurchaseOutcome::pending(known_id, kGatewayRetryMs);
  if (response.status_code == 401 || response.status_code == 403)
    throw PluginError(OSAGO_STATUS_PERMANENT, "the partner refused our API key (check the apiKey secret)");
  sdk::requireSuccess(response, "policy");
  json body = sdk::jsonObject(response, "policy");
  if (response.status_code == 202) return sdk::PurchaseOutcome::pending(draftOf(body, "policy"), 1000);
  std::string id = known_id.empty() ? sdk::requiredString(body, "policyId", "policy") : known_id;
  std::string status = sdk::stringField(body, "status", "policy");
  if (status == "CHECKING") return sdk::PurchaseOutcome::pending(id, sdk::retryAfterMs(response));
  if (status == "AWAITING_PAYMENT") {
    json payment = sdk::objectField(body, "payment", "policy");
    return sdk::PurchaseOutcome::payment(id, sdk::requiredString(payment, "href", "policy payment"),
                                         sdk::isoTimeField(payment, "validTill", "policy payment"));
  }
  if (status == "PAID") return sdk::PurchaseOutcome::paid(id);
  if (status == "ISSUED") {
    json policy = sdk::objectField(body, "policy", "policy");
    std::string series = sdk::stringField(policy, "series", "policy", "");
    std::string number = sdk::requiredString(policy, "number", "policy");
    return sdk::PurchaseOutcome::issued(id, series.empty() ? number : series + " " + number,
                                        sdk::stringField(policy, "pdfHref", "policy", ""));
  }
  if (status == "REFUSED") {
    json refusal = sdk::objectField(body, "refusal", "policy");
    return sdk::PurchaseOutcome::declined(sdk::stringField(refusal, "code", "refusal", "REFUSED"),
                                          sdk::stringField(refusal, "text", "refusal", "the insurer declined"));
  }
  throw PluginError(OSAGO_STATUS_PERMANENT, "policy: unknown status '" + status.substr(0, 64) + "'");
}

}  // namespace osago::plugins::potok

OSAGO_PLUGIN(osago::plugins::potok::PotokInsurer, "potok", "Potok platform adapter (asynchronous operations)", "0.1.0")
