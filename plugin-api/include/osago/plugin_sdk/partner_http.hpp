// Helpers for the answers of partner REST APIs, shared by plugin authors.
#pragma once

#include <osago/plugin_sdk/plugin.hpp>

#include <algorithm>
#include <optional>
#include <string>

namespace osago::sdk {

/// Throws unless the answer is 2xx: 5xx and 429 become TRANSIENT (worth
/// retrying), 400/422 INVALID_INPUT (the partner rejected the application),
/// anything else PERMANENT. `what` names the step for the message.
inline void requireSuccess(const HttpResponse& response, const std::string& what) {
  int s = response.status_code;
  if (s >= 200 && s < 300) return;
  std::string detail = what + ": partner answered HTTP " + std::to_string(s);
  if (s >= 500 || s == 429) throw PluginError(OSAGO_STATUS_TRANSIENT, detail);
  if (s == 400 || s == 422)
    throw PluginError(OSAGO_STATUS_INVALID_INPUT, detail + " (application rejected: " + response.body.substr(0, 200) + ")");
  throw PluginError(OSAGO_STATUS_PERMANENT, detail);
}

/// Parses the body as a JSON object; anything else is PERMANENT.
inline nlohmann::json jsonObject(const HttpResponse& response, const std::string& what) {
  auto body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object())
    throw PluginError(OSAGO_STATUS_PERMANENT, what + ": partner answered HTTP " + std::to_string(response.status_code) +
                                                  " with a body that is not a JSON object");
  return body;
}

/// A string field that must be present and non-empty; PERMANENT otherwise.
inline std::string requiredString(const nlohmann::json& body, const char* key, const std::string& what) {
  auto it = body.find(key);
  if (it == body.end() || !it->is_string() || it->get<std::string>().empty())
    throw PluginError(OSAGO_STATUS_PERMANENT, what + ": partner answer has no '" + key + "'");
  return it->get<std::string>();
}

/// A string field of a partner's answer: `fallback` when absent; PERMANENT,
/// naming the field, when it has another type (a wrong type is the partner's
/// mistake, never an exception out of nlohmann::json).
inline std::string stringField(const nlohmann::json& body, const char* key, const std::string& what,
                               const std::string& fallback = "") {
  auto it = body.find(key);
  if (it == body.end()) return fallback;
  if (!it->is_string())
    throw PluginError(OSAGO_STATUS_PERMANENT, what + ": partner answer field '" + key + "' must be a string, got " +
                                                  it->type_name());
  return it->get<std::string>();
}

/// An object field of a partner's answer: empty when absent; PERMANENT, naming the field, when it is not an object.
inline nlohmann::json objectField(const nlohmann::json& body, const char* key, const std::string& what) {
  auto it = body.find(key);
  if (it == body.end()) return nlohmann::json::object();
  if (!it->is_object())
    throw PluginError(OSAGO_STATUS_PERMANENT, what + ": partner answer field '" + key + "' must be an object, got " +
                                                  it->type_name());
  return *it;
}

/// An integer field of a partner's answer: `fallback` when absent; PERMANENT, naming the field, otherwise.
inline std::int64_t integerField(const nlohmann::json& body, const char* key, const std::string& what, std::int64_t fallback) {
  auto it = body.find(key);
  if (it == body.end()) return fallback;
  if (!it->is_number_integer())
    throw PluginError(OSAGO_STATUS_PERMANENT, what + ": partner answer field '" + key + "' must be an integer, got " +
                                                  it->type_name());
  return it->get<std::int64_t>();
}

/// A Retry-After header given in seconds, as milliseconds; nullopt when absent or not a number.
inline std::optional<std::int64_t> retryAfterMs(const HttpResponse& response) {
  const std::string& v = response.retry_after;
  if (v.empty() || v.size() > 6 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  return std::stoll(v) * 1000;
}

/// Reads a setting that must be a non-empty string; throws std::invalid_argument naming it.
inline std::string requiredSetting(const nlohmann::json& settings, const char* key, const char* example) {
  if (!settings.contains(key) || !settings[key].is_string() || settings[key].get<std::string>().empty())
    throw std::invalid_argument(std::string("setting '") + key + "' is required (e.g. " + example + ")");
  std::string v = settings[key].get<std::string>();
  while (!v.empty() && v.back() == '/') v.pop_back();
  return v;
}

/// A setting that is a whole number from 1 to `max` (a timeout in ms, say):
/// `fallback` when absent; throws std::invalid_argument naming it otherwise.
inline std::uint32_t unsignedSetting(const nlohmann::json& settings, const char* key, std::uint32_t fallback,
                                     std::uint32_t max = 600000) {
  auto it = settings.find(key);
  if (it == settings.end()) return fallback;
  if (!it->is_number_integer() || it->get<std::int64_t>() < 1 || it->get<std::int64_t>() > max)
    throw std::invalid_argument(std::string("setting '") + key + "' must be a whole number from 1 to " + std::to_string(max));
  return static_cast<std::uint32_t>(it->get<std::int64_t>());
}

}  // namespace osago::sdk
