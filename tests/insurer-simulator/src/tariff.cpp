#include "tariff.hpp"

#include <osago/plugin_sdk/plugin.hpp>

#include <algorithm>
#include <cmath>
#include <map>

namespace osago::simulator {
namespace {

__extension__ typedef __int128 Int128;  // exact products of up to 8 coefficients

// Coefficients are kept in hundredths so the product is exact integer arithmetic.
long long hundredths(double factor) { return std::llround(factor * 100.0); }

std::string decimal(double factor) { return sdk::rublesFromKopecks(hundredths(factor)); }

}  // namespace

double territoryFactor(const std::string& region_code) {
  // Region code → the coefficient of its main city (values in force before Dec 2025).
  static const std::map<std::string, double> kTable = {
      {"77", 1.8},  {"97", 1.8},  {"99", 1.8},  {"177", 1.8}, {"197", 1.8}, {"199", 1.8}, {"777", 1.8},
      {"50", 1.56}, {"90", 1.56}, {"150", 1.56}, {"190", 1.56}, {"750", 1.56},
      {"78", 1.64}, {"98", 1.64}, {"178", 1.64}, {"198", 1.64}, {"47", 1.24}, {"147", 1.24},
      {"23", 1.64}, {"93", 1.64}, {"123", 1.64}, {"61", 1.64}, {"161", 1.64}, {"63", 1.48}, {"163", 1.48},
      {"16", 1.8},  {"116", 1.8}, {"59", 1.8},  {"159", 1.8}, {"74", 1.88}, {"174", 1.88},
      {"66", 1.64}, {"96", 1.64}, {"196", 1.64}, {"52", 1.64}, {"152", 1.64}, {"54", 1.63}, {"154", 1.63},
      {"25", 1.36}, {"125", 1.36}, {"05", 0.9}, {"95", 0.76}, {"20", 0.76}, {"82", 0.68}};
  auto it = kTable.find(region_code);
  return it == kTable.end() ? 1.0 : it->second;
}

double bonusMalusFactor(int kbm_class) {
  // Index 0 is class M, then classes 0..13.
  static const double kTable[] = {3.92, 2.94, 2.25, 1.76, 1.17, 1.00, 0.91, 0.83,
                                  0.78, 0.74, 0.68, 0.63, 0.57, 0.52, 0.46};
  if (kbm_class < -1 || kbm_class > 13) return 1.17;
  return kTable[kbm_class + 1];
}

double ageExperienceFactor(int age, int experience_years) {
  static const double kTable[8][8] = {
      // 0     1     2     3-4   5-6   7-9   10-14 15+
      {2.27, 1.92, 1.84, 1.65, 1.62, 1.62, 1.62, 1.62},  // 16-21
      {1.88, 1.72, 1.71, 1.13, 1.10, 1.09, 1.09, 1.09},  // 22-24
      {1.72, 1.60, 1.54, 1.09, 1.08, 1.07, 1.02, 1.02},  // 25-29
      {1.56, 1.50, 1.48, 1.05, 1.04, 1.01, 0.97, 0.95},  // 30-34
      {1.54, 1.47, 1.46, 1.00, 0.97, 0.95, 0.94, 0.93},  // 35-39
      {1.50, 1.44, 1.43, 0.96, 0.95, 0.94, 0.93, 0.91},  // 40-49
      {1.46, 1.40, 1.39, 0.93, 0.92, 0.91, 0.90, 0.86},  // 50-59
      {1.43, 1.36, 1.35, 0.91, 0.90, 0.89, 0.88, 0.83},  // 60+
  };
  int row = age <= 21 ? 0 : age <= 24 ? 1 : age <= 29 ? 2 : age <= 34 ? 3 : age <= 39 ? 4 : age <= 49 ? 5 : age <= 59 ? 6 : 7;
  int e = std::max(0, experience_years);
  int col = e == 0 ? 0 : e == 1 ? 1 : e == 2 ? 2 : e <= 4 ? 3 : e <= 6 ? 4 : e <= 9 ? 5 : e <= 14 ? 6 : 7;
  // Cells the regulator leaves empty cannot occur (experience longer than adult life); they repeat the last value.
  return kTable[row][col];
}

double powerFactor(int hp) {
  return hp <= 50 ? 0.6 : hp <= 70 ? 1.0 : hp <= 100 ? 1.1 : hp <= 120 ? 1.2 : hp <= 150 ? 1.4 : 1.6;
}

double seasonFactor(int months) {
  if (months <= 3) return 0.5;
  switch (months) {
    case 4: return 0.6;
    case 5: return 0.65;
    case 6: return 0.7;
    case 7: return 0.8;
    case 8: return 0.9;
    case 9: return 0.95;
    default: return 1.0;
  }
}

int kbmClassForLicence(const std::string& licence_number) {
  long long n = 0;
  for (char c : licence_number)
    if (c >= '0' && c <= '9') n = (n * 10 + (c - '0')) % 1'000'000'007;
  return 3 + static_cast<int>(n % 11);
}

TariffResult computePremium(const TariffInput& in) {
  double kt = territoryFactor(in.region_code);
  double ko = in.multidrive ? 2.32 : 1.0;
  double km = powerFactor(in.engine_power_hp);
  double ks = seasonFactor(in.usage_months);
  double kn = in.serious_violations ? 1.5 : 1.0;

  // With named drivers, the driver with the largest KBM × KVS decides.
  double kbm = bonusMalusFactor(in.owner_kbm_class);
  double kvs = 1.0;
  if (!in.multidrive) {
    long long worst = -1;
    for (const auto& d : in.drivers) {
      double b = bonusMalusFactor(d.kbm_class);
      double v = ageExperienceFactor(d.age, d.experience_years);
      long long product = hundredths(b) * hundredths(v);
      if (product > worst) {
        worst = product;
        kbm = b;
        kvs = v;
      }
    }
  }

  Int128 numerator = in.base_rate_kopecks;
  Int128 denominator = 1;
  for (double f : {kt, kbm, kvs, ko, km, ks, kn}) {
    numerator *= hundredths(f);
    denominator *= 100;
  }
  Int128 premium = (numerator * 2 + denominator) / (denominator * 2);  // half-up
  Int128 cap = static_cast<Int128>(in.base_rate_kopecks) * hundredths(kt) * (in.serious_violations ? 5 : 3) / 100;
  premium = std::min(premium, cap);

  TariffResult out;
  out.premium_kopecks = static_cast<std::int64_t>(premium);
  out.factors = {{"tb", sdk::rublesFromKopecks(in.base_rate_kopecks)}, {"kt", decimal(kt)}, {"kbm", decimal(kbm)},
                 {"kvs", decimal(kvs)}, {"ko", decimal(ko)}, {"km", decimal(km)}, {"ks", decimal(ks)}};
  if (in.serious_violations) out.factors["kn"] = decimal(kn);
  return out;
}

TariffInput tariffInputFromQuote(const nlohmann::json& quote, std::int64_t base_rate_kopecks) {
  TariffInput in;
  in.base_rate_kopecks = base_rate_kopecks;
  in.region_code = quote.at("owner").at("regionCode").get<std::string>();
  in.engine_power_hp = quote.at("vehicle").at("enginePowerHp").get<int>();
  const auto& policy = quote.at("policy");
  in.usage_months = policy.at("usageMonths").get<int>();
  in.multidrive = policy.at("multidrive").get<bool>();
  auto start = CivilDate::parse(policy.at("startDate").get<std::string>()).value();
  for (const auto& d : quote.value("drivers", nlohmann::json::array())) {
    TariffDriver td;
    td.age = fullYearsBetween(CivilDate::parse(d.at("birthDate").get<std::string>()).value(), start);
    td.experience_years =
        fullYearsBetween(CivilDate::parse(d.at("experienceStartDate").get<std::string>()).value(), start);
    td.kbm_class = kbmClassForLicence(d.at("licenseNumber").get<std::string>());
    in.drivers.push_back(td);
  }
  return in;
}

}  // namespace osago::simulator
