#include "garant_insurer.hpp"

#include <osago/plugin_sdk/partner_http.hpp>

#include <algorithm>

namespace osago::plugins::garant {

using nlohmann::json;
using sdk::PluginError;

namespace {
constexpr std::int64_t kMaxTokenSeconds = 86400;
}  // namespace

GarantInsurer::GarantInsurer(sdk::Host host, const nlohmann::json& settings)
    : host_(host),
      base_url_(sdk::requiredSetting(settings, "baseUrl", "http://127.0.0.1:8090/volga-garant")),
      client_id_(sdk::requiredSetting(settings, "clientId", "osago-aggregator")),
      client_secret_(host.secret("clientSecret")),
      timeout_ms_(sdk::unsignedSetting(settings, "timeoutMs", 5000)) {}

std::string GarantInsurer::token(const sdk::Call& call, bool force_new) {
  std::lock_guard lock(mutex_);
  if (!force_new && !token_.empty() && host_.nowUnixMs() < token_expires_ms_) return token_;
  sdk::HttpRequest request;
  request.method = "POST";
  request.url = base_url_ + "/oauth/token";
  request.headers = {{"Content-Type", "application/json"}};
  request.body = json{{"client_id", client_id_}, {"client_secret", client_secret_}}.dump();
  request.timeout_ms = timeout_ms_;
  auto response = host_.http(call, request);
  if (response.status_code == 401)
    throw PluginError(OSAGO_STATUS_PERMANENT, "token: the partner refused our client id/secret (check the clientSecret secret)");
  sdk::requireSuccess(response, "token");
  json body = sdk::jsonObject(response, "token");
  token_ = sdk::requiredString(body, "access_token", "token");
  // A lifetime outside a second to a day is the partner's nonsense (the fuzz target
  // found 3.7e18 overflowing the sum below): held to those bounds.
  std::int64_t ttl_s = std::clamp<std::int64_t>(sdk::integerField(body, "expires_in", "token", 60), 1, kMaxTokenSeconds);
  // Renew 10 s early so a token never expires on the way.
  token_expires_ms_ = host_.nowUnixMs() + std::max<std::int64_t>(1, ttl_s - 10) * 1000;
  return token_;
}

sdk::HttpResponse GarantInsurer::authorized(const sdk::Call& call, sdk::HttpRequest request) {
  request.headers.emplace_back("Authorization", "Bearer " + token(call, false));
  auto response = host_.http(call, request);
  if (response.status_code != 401) return response;
  // The token expired or was revoked early: a 401 means nothing was processed, so one retry is safe.
  request.headers.back().second = "Bearer " + token(call, true);
  return host_.http(call, request);
}

sdk::Outcome GarantInsurer::submit(const sdk::Call& call, const nlohmann::json& quote) {
  sdk::HttpRequest request;
  request.method = "POST";
  request.url = base_url_ + "/osago/applications";
  request.headers = {{"Content-Type", "application/json"}, {"X-Request-Id", call.correlationId()}};
  request.body = toGarantApplication(quote).dump();
  request.timeout_ms = timeout_ms_;
  return mapSubmitResponse(authorized(call, request));
}

sdk::Outcome GarantInsurer::poll(const sdk::Call& call, const std::string& external_id) {
  sdk::HttpRequest request;
  request.url = base_url_ + "/osago/applications/" + external_id + "/offer";
  request.headers = {{"X-Request-Id", call.correlationId()}};
  request.timeout_ms = timeout_ms_;
  return mapOfferResponse(external_id, authorized(call, request));
}

sdk::PurchaseOutcome GarantInsurer::issue(const sdk::Call& call, const nlohmann::json& purchase) {
  json offer = sdk::objectField(purchase, "offer", "purchase");
  json buyer = sdk::objectField(purchase, "buyer", "purchase");
  sdk::HttpRequest request;
  request.method = "POST";
  request.url = base_url_ + "/osago/policies";
  request.headers = {{"Content-Type", "application/json"}, {"X-Request-Id", call.correlationId()}};
  request.body = json{{"application_id", sdk::requiredString(purchase, "applicationId", "purchase")},
                      {"offer_id", sdk::stringField(offer, "offerId", "purchase offer", "")},
                      {"request_id", sdk::requiredString(purchase, "purchaseId", "purchase")},
                      {"email", sdk::requiredString(buyer, "email", "purchase buyer")},
                      {"phone", sdk::requiredString(buyer, "phone", "purchase buyer")}}
                     .dump();
  request.timeout_ms = timeout_ms_;
  return mapPolicyResponse("", authorized(call, request));
}

sdk::PurchaseOutcome GarantInsurer::issuePoll(const sdk::Call& call, const std::string& external_purchase_id) {
  sdk::HttpRequest request;
  request.url = base_url_ + "/osago/policies/" + external_purchase_id;
  request.headers = {{"X-Request-Id", call.correlationId()}};
  request.timeout_ms = timeout_ms_;
  return mapPolicyResponse(external_purchase_id, authorized(call, request));
}

sdk::PurchaseOutcome mapPolicyResponse(const std::string& known_id, const sdk::HttpResponse& response) {
  sdk::requireSuccess(response, "policy");
  json body = sdk::jsonObject(response, "policy");
  std::string id = known_id.empty() ? sdk::requiredString(body, "policy_id", "policy") : known_id;
  std::string status = sdk::stringField(body, "status", "policy");
  if (response.status_code == 202 || status == "VALIDATION" || status == "CALCULATION")
    return sdk::PurchaseOutcome::pending(id, sdk::retryAfterMs(response));
  if (status == "PAYMENT") {
    std::int64_t deadline_s = sdk::integerField(body, "payment_deadline", "policy", 0);
    if (deadline_s <= 0 || deadline_s > 4'102'444'800LL)
      throw PluginError(OSAGO_STATUS_PERMANENT, "policy: payment_deadline must be Unix seconds");
    return sdk::PurchaseOutcome::payment(id, sdk::requiredString(body, "payment_link", "policy"), deadline_s * 1000,
                                         sdk::stringField(body, "draft_link", "policy", ""));
  }
  if (status == "PAID") return sdk::PurchaseOutcome::paid(id);
  if (status == "ISSUED") {
    std::string series = sdk::stringField(body, "policy_series", "policy", "");
    std::string number = sdk::requiredString(body, "policy_number", "policy");
    return sdk::PurchaseOutcome::issued(id, series.empty() ? number : series + " " + number,
                                        sdk::stringField(body, "policy_link", "policy", ""));
  }
  if (status == "DECLINED")
    return sdk::PurchaseOutcome::declined(sdk::stringField(body, "decline_code", "policy", "DECLINED"),
                                          sdk::stringField(body, "decline_reason", "policy", "the insurer declined"));
  throw PluginError(OSAGO_STATUS_PERMANENT, "policy: unknown status '" + status.substr(0, 64) + "'");
}

json toGarantApplication(const json& q) {
  const auto& v = q.at("vehicle");
  const auto& o = q.at("owner");
  const auto& p = q.at("policy");
  json drivers = json::array();
  for (const auto& d : q.value("drivers", json::array()))
    drivers.push_back({{"last_name", d.at("lastName")}, {"first_name", d.at("firstName")},
                       {"birth_date", d.at("birthDate")}, {"licence_series", d.at("licenseSeries")},
                       {"licence_number", d.at("licenseNumber")}, {"experience_since", d.at("experienceStartDate")}});
  return {{"vehicle", {{"category", v.at("category")}, {"brand", v.at("make")}, {"model", v.at("model")},
                       {"year", v.at("year")}, {"power_hp", v.at("enginePowerHp")}, {"vin", v.at("vin")},
                       {"reg_number", v.at("plate")}}},
          {"owner", {{"last_name", o.at("lastName")}, {"first_name", o.at("firstName")},
                     {"middle_name", o.value("middleName", "")}, {"birth_date", o.at("birthDate")},
                     {"region_code", o.at("regionCode")}}},
          {"drivers", drivers},
          {"policy", {{"start_date", p.at("startDate")}, {"period_months", p.at("usageMonths")},
                      {"unlimited_drivers", p.at("multidrive")}}}};
}

sdk::Outcome mapSubmitResponse(const sdk::HttpResponse& response) {
  sdk::requireSuccess(response, "submit");
  return sdk::Outcome::pending(sdk::requiredString(sdk::jsonObject(response, "submit"), "application_id", "submit"));
}

sdk::Outcome mapOfferResponse(const std::string& external_id, const sdk::HttpResponse& response) {
  if (response.status_code == 202) return sdk::Outcome::pending(external_id, sdk::retryAfterMs(response));
  sdk::requireSuccess(response, "offer");
  json body = sdk::jsonObject(response, "offer");
  std::string status = sdk::stringField(body, "status", "offer");
  if (status == "IN_PROGRESS") return sdk::Outcome::pending(external_id, sdk::retryAfterMs(response));
  if (status == "REJECTED")
    return sdk::Outcome::declined(sdk::stringField(body, "reject_code", "offer", "REJECTED"),
                                  sdk::stringField(body, "reject_reason", "offer", "the insurer declined"));
  if (status == "APPROVED") {
    auto kopecks = body.find("premium_kopecks");
    if (kopecks == body.end() || !kopecks->is_number_integer() || kopecks->get<std::int64_t>() <= 0)
      throw PluginError(OSAGO_STATUS_PERMANENT, "offer: premium_kopecks must be a positive integer");
    json details{{"offerId", sdk::stringField(body, "offer_id", "offer", external_id)}};
    if (body.contains("coefficients")) details["factors"] = body["coefficients"];
    return sdk::Outcome::offer(external_id, sdk::rublesFromKopecks(kopecks->get<std::int64_t>()), details);
  }
  throw PluginError(OSAGO_STATUS_PERMANENT, "offer: unknown status '" + status.substr(0, 64) + "'");
}

}  // namespace osago::plugins::garant

OSAGO_PLUGIN(osago::plugins::garant::GarantInsurer, "garant", "Garant platform adapter", "0.2.0")
