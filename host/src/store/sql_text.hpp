#pragma once

// Small pieces of SQL text and time conversions shared by the store's translation units.

#include <chrono>
#include <cstdio>
#include <string>

namespace osago::host::sql {

/// The SQL expression of `column` (a timestamptz) as ISO 8601 UTC with milliseconds.
inline std::string iso(const char* column) {
  char buf[160];
  std::snprintf(buf, sizeof buf, R"(to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))", column);
  return buf;
}

/// The SQL expression of `column` (a timestamptz) as Unix milliseconds (bigint).
inline std::string unixMsOf(const char* column) {
  return std::string("(extract(epoch FROM ") + column + ") * 1000)::bigint";
}

inline long long unixMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

inline std::chrono::system_clock::time_point fromUnixMs(long long ms) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

}  // namespace osago::host::sql
