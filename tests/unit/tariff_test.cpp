// The simulator's premium follows the regulated formula of shared/reference/osago-tariffs.md.
#include "tariff.hpp"

#include <gtest/gtest.h>

namespace {

using namespace osago::simulator;

TariffInput moscowDriver() {
  TariffInput in;
  in.base_rate_kopecks = 650000;
  in.region_code = "77";
  in.engine_power_hp = 150;
  in.usage_months = 12;
  in.drivers = {{35, 10, 8}};
  return in;
}

TEST(Tariff, WorkedExampleFromTheReference) {
  // 6500 × 1.8 × 0.74 × 0.94 × 1.4 = 11 393.928 → 11 393.93 ₽
  auto r = computePremium(moscowDriver());
  EXPECT_EQ(r.premium_kopecks, 1139393);
  EXPECT_EQ(r.factors["kt"], "1.80");
  EXPECT_EQ(r.factors["kbm"], "0.74");
  EXPECT_EQ(r.factors["kvs"], "0.94");
  EXPECT_EQ(r.factors["km"], "1.40");
}

TEST(Tariff, DriverWithLargestKbmTimesKvsDecides) {
  auto in = moscowDriver();
  in.drivers.push_back({22, 1, 3});  // KBM 1.17 × KVS 1.72
  auto r = computePremium(in);
  EXPECT_EQ(r.factors["kbm"], "1.17");
  EXPECT_EQ(r.factors["kvs"], "1.72");
}

TEST(Tariff, MultidriveUsesKoAndOwnersClass) {
  auto in = moscowDriver();
  in.multidrive = true;
  in.drivers.clear();
  in.owner_kbm_class = 3;
  auto r = computePremium(in);
  EXPECT_EQ(r.factors["ko"], "2.32");
  EXPECT_EQ(r.factors["kvs"], "1.00");
  // 6500 × 1.8 × 1.17 × 2.32 × 1.4 = 44 461.87 exceeds the cap 3 × TB × KT = 35 100
  EXPECT_EQ(r.premium_kopecks, 3510000);
}

TEST(Tariff, FactorTables) {
  EXPECT_DOUBLE_EQ(powerFactor(50), 0.6);
  EXPECT_DOUBLE_EQ(powerFactor(51), 1.0);
  EXPECT_DOUBLE_EQ(powerFactor(151), 1.6);
  EXPECT_DOUBLE_EQ(seasonFactor(3), 0.5);
  EXPECT_DOUBLE_EQ(seasonFactor(9), 0.95);
  EXPECT_DOUBLE_EQ(seasonFactor(10), 1.0);
  EXPECT_DOUBLE_EQ(ageExperienceFactor(18, 0), 2.27);
  EXPECT_DOUBLE_EQ(ageExperienceFactor(65, 40), 0.83);
  EXPECT_DOUBLE_EQ(bonusMalusFactor(-1), 3.92);
  EXPECT_DOUBLE_EQ(bonusMalusFactor(13), 0.46);
  EXPECT_DOUBLE_EQ(territoryFactor("78"), 1.64);
  EXPECT_DOUBLE_EQ(territoryFactor("01"), 1.0);
}

TEST(Tariff, KbmClassIsDeterministicPerLicence) {
  EXPECT_EQ(kbmClassForLicence("345678"), kbmClassForLicence("345678"));
  for (const char* n : {"000000", "345678", "999999", "123456"}) {
    int c = kbmClassForLicence(n);
    EXPECT_GE(c, 3);
    EXPECT_LE(c, 13);
  }
}

TEST(Tariff, FromCanonicalQuote) {
  auto quote = nlohmann::json::parse(R"({"v":1,
    "vehicle":{"enginePowerHp":150},"owner":{"regionCode":"77"},
    "drivers":[{"birthDate":"1980-06-12","experienceStartDate":"2005-05-20","licenseNumber":"345678"}],
    "policy":{"startDate":"2026-12-15","usageMonths":6,"multidrive":false}})");
  auto in = tariffInputFromQuote(quote, 650000);
  ASSERT_EQ(in.drivers.size(), 1u);
  EXPECT_EQ(in.drivers[0].age, 46);
  EXPECT_EQ(in.drivers[0].experience_years, 21);
  EXPECT_EQ(in.usage_months, 6);
  EXPECT_EQ(in.region_code, "77");
}

}  // namespace
