// Helpers for the answers of partner REST APIs, shared by plugin authors.
#pragma once

#include <osago/plugin_sdk/plugin.hpp>

#include <algorithm>
#include <optional>
#include <string_view>
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

/// "2026-12-07T19:40:00Z" or with milliseconds ("…:00.123Z") or an offset
/// ("+03:00"), as Unix milliseconds; nullopt for any other text.
inline std::optional<std::int64_t> unixMsFromIso(std::string_view t) {
  auto num = [&](std::size_t at, std::size_t n, int& out) {
    if (at + n > t.size()) return false;
    out = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return false;
      out = out * 10 + (t[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, s, ms = 0;
  if (t.size() < 20 || !num(0, 4, y) || t[4] != '-' || !num(5, 2, mo) || t[7] != '-' || !num(8, 2, d) ||
      (t[10] != 'T' && t[10] != ' ') || !num(11, 2, h) || t[13] != ':' || !num(14, 2, mi) || t[16] != ':' || !num(17, 2, s))
    return std::nullopt;
  std::size_t at = 19;
  if (t[at] == '.') {
    std::size_t digits = 0;
    for (++at; at < t.size() && t[at] >= '0' && t[at] <= '9'; ++at, ++digits)
      if (digits < 3) ms = ms * 10 + (t[at] - '0');
    if (digits == 0) return std::nullopt;
    for (; digits < 3; ++digits) ms *= 10;
  }
  std::int64_t offset_min = 0;
  if (at < t.size() && t[at] == 'Z' && at + 1 == t.size()) {
  } else if (at + 6 == t.size() && (t[at] == '+' || t[at] == '-') && t[at + 3] == ':') {
    int oh, om;
    if (!num(at + 1, 2, oh) || !num(at + 4, 2, om) || oh > 14 || om > 59) return std::nullopt;
    offset_min = (t[at] == '-' ? -1 : 1) * (oh * 60 + om);
  } else {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  // Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
  std::int64_t yy = y - (mo <= 2);
  std::int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
  std::int64_t yoe = yy - era * 400;
  std::int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  std::int64_t days = era * 146097 + doe - 719468;
  return ((days * 24 + h) * 60 + mi - offset_min) * 60000 + s * 1000LL + ms;
}

/// A time field of a partner's answer in ISO 8601 (unixMsFromIso), as Unix milliseconds; PERMANENT otherwise.
inline std::int64_t isoTimeField(const nlohmann::json& body, const char* key, const std::string& what) {
  std::string text = requiredString(body, key, what);
  auto ms = unixMsFromIso(text);
  if (!ms)
    throw PluginError(OSAGO_STATUS_PERMANENT, what + ": partner answer field '" + key + "' is not an ISO 8601 time: '" +
                                                  text.substr(0, 40) + "'");
  return *ms;
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
