#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace osago {

/// A calendar date without time zone, as used in the quote input ("YYYY-MM-DD").
struct CivilDate {
  int year = 1970;
  int month = 1;
  int day = 1;

  /// Parses strict "YYYY-MM-DD"; nullopt for anything else or an impossible date.
  static std::optional<CivilDate> parse(std::string_view text);
  /// Today's date in UTC.
  static CivilDate todayUtc();
  /// The date `days_since_epoch` days after 1970-01-01.
  static CivilDate fromDays(long days_since_epoch);

  long daysSinceEpoch() const;
  CivilDate plusDays(long days) const { return fromDays(daysSinceEpoch() + days); }
  std::string toString() const;

  friend bool operator==(const CivilDate&, const CivilDate&) = default;
  friend auto operator<=>(const CivilDate& a, const CivilDate& b) { return a.daysSinceEpoch() <=> b.daysSinceEpoch(); }
};

/// `t` as ISO 8601 UTC with milliseconds: "2026-12-07T19:40:00.123Z".
std::string isoUtc(std::chrono::system_clock::time_point t);

/// Whole years from `from` to `to` (a person's age on `to`); negative if `to` is earlier.
int fullYearsBetween(const CivilDate& from, const CivilDate& to);

}  // namespace osago
