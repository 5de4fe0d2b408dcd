#pragma once
// What the benchmarks that create quote requests share: one driver's quote
// and the create call as core-app makes it (a service token of the key in
// OSAGO_SERVICE_TOKEN_SECRET, a fresh correlation id each time).
#include <osago/common/civil_date.hpp>
#include <osago/common/http_client.hpp>
#include <osago/common/ids.hpp>
#include <osago/common/signed_tokens.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace osago::bench {

/// A valid quote of user "bench": a Camry in Moscow, one driver, the policy starting in five days.
inline nlohmann::json benchQuote() {
  auto today = CivilDate::todayUtc();
  return {
      {"userId", "bench"},
      {"vehicle", {{"category", "B"}, {"make", "Toyota"}, {"model", "Camry"}, {"year", 2020}, {"enginePowerHp", 150},
                   {"vin", "XTA21099043765439"}, {"plate", "А123ВЕ777"}}},
      {"owner", {{"lastName", "Иванов"}, {"firstName", "Иван"}, {"birthDate", "1980-06-12"}, {"regionCode", "77"}}},
      {"drivers", nlohmann::json::array({{{"lastName", "Иванов"}, {"firstName", "Иван"}, {"birthDate", "1980-06-12"},
                                          {"licenseSeries", "7712"}, {"licenseNumber", "345678"},
                                          {"experienceStartDate", "2005-05-20"}}})},
      {"policy", {{"startDate", today.plusDays(5).toString()}, {"usageMonths", 12}, {"multidrive", false}}}};
}

/// POST `url`/osago/requests with `quote` under a new correlation id (10 s timeout).
inline http::ClientResponse createRequest(const std::string& url, nlohmann::json& quote,
                                          auth::ServiceTokenIssuer& service_token) {
  quote["correlationId"] = newUuid();
  http::ClientRequest req;
  req.method = "POST";
  req.url = url + "/osago/requests";
  req.body = quote.dump();
  req.headers.emplace_back("Authorization", service_token.authorization());
  req.timeout = std::chrono::seconds(10);
  return http::call(req);
}

}  // namespace osago::bench
