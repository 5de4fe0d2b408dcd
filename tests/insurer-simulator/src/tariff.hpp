#pragma once

#include <osago/common/civil_date.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace osago::simulator {

/// One named driver as the tariff sees it.
struct TariffDriver {
  int age = 0;
  int experience_years = 0;
  int kbm_class = 3;
};

/// Everything the regulated OSAGO formula needs (see shared/reference/osago-tariffs.md).
struct TariffInput {
  std::int64_t base_rate_kopecks = 0;  ///< TB, the insurer's own base rate
  std::string region_code;             ///< owner's registration region
  int engine_power_hp = 0;
  int usage_months = 12;
  bool multidrive = false;
  int owner_kbm_class = 3;             ///< used with multidrive
  std::vector<TariffDriver> drivers;   ///< empty with multidrive
  bool serious_violations = false;     ///< KN
};

/// The premium and every factor that went into it (factors as decimal strings).
struct TariffResult {
  std::int64_t premium_kopecks = 0;
  nlohmann::json factors;
};

double territoryFactor(const std::string& region_code);  ///< KT; 1.0 for regions not in the table
double bonusMalusFactor(int kbm_class);                  ///< KBM; class 3 (newcomer) for unknown classes
double ageExperienceFactor(int age, int experience_years);  ///< KVS
double powerFactor(int engine_power_hp);                 ///< KM
double seasonFactor(int usage_months);                   ///< KS

/// Deterministic stand-in for the RSA bonus-malus database: class 3..13 from the licence number.
int kbmClassForLicence(const std::string& licence_number);

/// Premium = TB × KT × KBM × KVS × KO × KM × KS (× KN), capped at 3 × TB × KT
/// (5 × with KN), rounded half-up to kopecks. The coefficients are exact decimals.
TariffResult computePremium(const TariffInput& input);

/// Builds the tariff input from a canonical quote input and the insurer's base rate.
TariffInput tariffInputFromQuote(const nlohmann::json& quote, std::int64_t base_rate_kopecks);

}  // namespace osago::simulator
