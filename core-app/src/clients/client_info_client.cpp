#include "clients/client_info_client.hpp"

#include <osago/common/http_server.hpp>
#include <osago/common/outside_json.hpp>

namespace osago::core {

ClientInfoClient::ClientInfoClient(std::string base_url, std::chrono::milliseconds timeout, BreakerConfig breaker)
    : base_url_(std::move(base_url)), timeout_(timeout), endpoint_("client-info", breaker) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

std::optional<nlohmann::json> ClientInfoClient::profile(const std::string& user_id) {
  http::ClientRequest req;
  req.url = base_url_ + "/users/" + user_id + "/profile";
  req.timeout = timeout_;
  auto r = endpoint_.run([&] { return http::call(req); });
  if (r.status == 404) return std::nullopt;
  auto j = parseOutside(r.body);
  if (r.status != 200 || !j.is_object())
    throw http::ClientError(http::ClientError::Kind::kFailed, "client-info answered HTTP " + std::to_string(r.status) + " without a profile");
  if (auto problem = profileProblem(j)) {
    static RejectionLog rejections("clients", "client_info_answer");
    rejections.reject("client-info's profile of a user is malformed: " + *problem);
    throw http::ClientError(http::ClientError::Kind::kFailed, "client-info's profile is malformed: " + *problem);
  }
  return j;
}

std::optional<std::string> profileProblem(const nlohmann::json& profile) {
  OutsideJson check(profile);
  for (const char* key : {"lastName", "firstName", "middleName", "birthDate", "registrationRegion"}) check.string(key, false, 256);
  check.array("vehicles").array("drivers");
  if (check.problem()) return check.problem();
  for (const char* list : {"vehicles", "drivers"}) {
    if (!profile.contains(list)) continue;
    std::size_t i = 0;
    for (const auto& item : profile[list]) {
      std::string where = std::string(list) + "[" + std::to_string(i++) + "]";
      if (auto problem = OutsideJson(item, where).string("id", true, 128).problem()) return problem;
    }
  }
  return std::nullopt;
}

bool refersToProfile(const nlohmann::json& body) {
  if (!body.is_object()) return false;
  if (auto it = body.find("ownerFromProfile"); it != body.end() && !it->is_boolean())
    throw http::HttpError(400, "VALIDATION_FAILED", "ownerFromProfile must be true or false",
                          nlohmann::json::array({{{"field", "ownerFromProfile"}, {"reason", "must be true or false"}}}));
  return body.value("ownerFromProfile", false) || body.contains("savedVehicleId") || body.contains("savedDriverIds");
}

namespace {

nlohmann::json savedItem(const nlohmann::json& profile, const char* list, const nlohmann::json& id, const std::string& field) {
  if (!id.is_string()) throw http::HttpError(400, "VALIDATION_FAILED", field + " must be a string",
                                             nlohmann::json::array({{{"field", field}, {"reason", "must be a string"}}}));
  for (const auto& item : profile.value(list, nlohmann::json::array()))
    if (item.value("id", "") == id.get<std::string>()) {
      nlohmann::json copy = item;
      copy.erase("id");
      return copy;
    }
  std::string reason = "no saved entry '" + id.get<std::string>() + "' in your profile";
  throw http::HttpError(400, "VALIDATION_FAILED", "the quote request refers to saved data that does not exist",
                        nlohmann::json::array({{{"field", field}, {"reason", reason}}}));
}

}  // namespace

nlohmann::json fillFromProfile(nlohmann::json body, const nlohmann::json& profile) {
  if (body.value("ownerFromProfile", false) && !body.contains("owner")) {
    body["owner"] = {{"lastName", profile.value("lastName", "")},     {"firstName", profile.value("firstName", "")},
                     {"middleName", profile.value("middleName", "")}, {"birthDate", profile.value("birthDate", "")},
                     {"regionCode", profile.value("registrationRegion", "")}};
    if (body["owner"]["middleName"] == "") body["owner"].erase("middleName");
  }
  if (body.contains("savedVehicleId") && !body.contains("vehicle"))
    body["vehicle"] = savedItem(profile, "vehicles", body["savedVehicleId"], "savedVehicleId");
  if (body.contains("savedDriverIds") && !body.contains("drivers")) {
    if (!body["savedDriverIds"].is_array())
      throw http::HttpError(400, "VALIDATION_FAILED", "savedDriverIds must be a list",
                            nlohmann::json::array({{{"field", "savedDriverIds"}, {"reason", "must be a list of ids"}}}));
    nlohmann::json drivers = nlohmann::json::array();
    for (std::size_t i = 0; i < body["savedDriverIds"].size(); ++i)
      drivers.push_back(savedItem(profile, "drivers", body["savedDriverIds"][i], "savedDriverIds[" + std::to_string(i) + "]"));
    body["drivers"] = drivers;
  }
  body.erase("ownerFromProfile");
  body.erase("savedVehicleId");
  body.erase("savedDriverIds");
  return body;
}

}  // namespace osago::core
