#include <osago/common/civil_date.hpp>

#include <gtest/gtest.h>

using osago::CivilDate;

TEST(CivilDate, ParsesStrictIsoDates) {
  auto d = CivilDate::parse("2024-02-29");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->year, 2024);
  EXPECT_EQ(d->month, 2);
  EXPECT_EQ(d->day, 29);
  EXPECT_EQ(d->toString(), "2024-02-29");
}

TEST(CivilDate, RejectsImpossibleOrSloppyDates) {
  for (const char* bad : {"2023-02-29", "2024-13-01", "2024-04-31", "2024-4-01", "24-04-01", "2024/04/01", "",
                          "2024-04-01T00:00", "1899-12-31"})
    EXPECT_FALSE(CivilDate::parse(bad)) << bad;
}

TEST(CivilDate, DayArithmeticRoundTrips) {
  CivilDate d{2026, 12, 31};
  EXPECT_EQ(d.plusDays(1).toString(), "2027-01-01");
  EXPECT_EQ(CivilDate::fromDays(0).toString(), "1970-01-01");
  EXPECT_EQ(CivilDate::fromDays(d.daysSinceEpoch()), d);
}

TEST(CivilDate, FullYearsCountsBirthdays) {
  CivilDate birth{1980, 6, 12};
  EXPECT_EQ(osago::fullYearsBetween(birth, {2026, 6, 11}), 45);
  EXPECT_EQ(osago::fullYearsBetween(birth, {2026, 6, 12}), 46);
  EXPECT_EQ(osago::fullYearsBetween(birth, {1979, 1, 1}), -2);
}

TEST(CivilDate, IsoUtcWritesMillisecondsInUtc) {
  using std::chrono::milliseconds;
  using Clock = std::chrono::system_clock;
  EXPECT_EQ(osago::isoUtc(Clock::time_point(milliseconds(0))), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(osago::isoUtc(Clock::time_point(milliseconds(1'765'121'400'250LL))), "2025-12-07T15:30:00.250Z");
  EXPECT_EQ(osago::isoUtc(Clock::time_point(milliseconds(1'709'164'799'999LL))), "2024-02-28T23:59:59.999Z");
  EXPECT_EQ(osago::isoUtc(Clock::time_point(milliseconds(-1))), "1969-12-31T23:59:59.999Z");
}
