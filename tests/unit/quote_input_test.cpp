// The quote-input rules that real partners enforce, each reported against its field.
#include <osago/common/quote_input.hpp>

#include <gtest/gtest.h>

#include <algorithm>

namespace {

using nlohmann::json;
using osago::CivilDate;
using osago::quote::validateQuoteInput;

const CivilDate kToday{2026, 11, 27};

json validQuote() {
  return json::parse(R"({
    "vehicle":{"category":"B","make":"Toyota","model":"Camry","year":2020,"enginePowerHp":150,
               "vin":"XTA21099043765439","plate":"А123ВЕ777"},
    "owner":{"lastName":"Иванов","firstName":"Иван","middleName":"Иванович","birthDate":"1980-06-12","regionCode":"77"},
    "drivers":[{"lastName":"Иванов","firstName":"Иван","birthDate":"1980-06-12",
                "licenseSeries":"7712","licenseNumber":"345678","experienceStartDate":"2005-05-20"}],
    "policy":{"startDate":"2026-12-15","usageMonths":12,"multidrive":false}})");
}

/// The reason given for `field`, or "" when the field was accepted.
std::string reasonFor(const json& quote, const std::string& field) {
  auto r = validateQuoteInput(quote, kToday);
  auto it = std::find_if(r.errors.begin(), r.errors.end(), [&](const auto& e) { return e.field == field; });
  return it == r.errors.end() ? "" : it->reason;
}

TEST(QuoteInput, AcceptsTheExampleAndVersionsIt) {
  auto r = validateQuoteInput(validQuote(), kToday);
  ASSERT_TRUE(r.ok()) << osago::quote::toJson(r.errors).dump();
  EXPECT_EQ(r.input["v"], 1);
  EXPECT_EQ(r.input["vehicle"]["plate"], "А123ВЕ777");
  EXPECT_EQ(r.input["drivers"][0]["licenseNumber"], "345678");
}

TEST(QuoteInput, NormalisesLatinLookAlikesInPlatesAndLowerCaseVin) {
  auto q = validQuote();
  q["vehicle"]["plate"] = "a123be 777";
  q["vehicle"]["vin"] = "xta21099043765439";
  auto r = validateQuoteInput(q, kToday);
  ASSERT_TRUE(r.ok()) << osago::quote::toJson(r.errors).dump();
  EXPECT_EQ(r.input["vehicle"]["plate"], "А123ВЕ777");
  EXPECT_EQ(r.input["vehicle"]["vin"], "XTA21099043765439");
}

TEST(QuoteInput, VinMustBe17CharactersWithoutIOQ) {
  for (const char* bad : {"XTA2109904376543", "XTA21099043765439X", "XTA2109904376543I", "XTA2109904376543O",
                          "XTA2109904376543Q", "XTA21099043765-39"}) {
    auto q = validQuote();
    q["vehicle"]["vin"] = bad;
    EXPECT_NE(reasonFor(q, "vehicle.vin"), "") << bad;
  }
}

TEST(QuoteInput, PlateMustFollowTheRussianPattern) {
  for (const char* bad : {"Б123ВЕ777", "А12ВЕ777", "А123В777", "А123ВЕ7", "А123ВЕ7777", "123ВЕА777"}) {
    auto q = validQuote();
    q["vehicle"]["plate"] = bad;
    EXPECT_NE(reasonFor(q, "vehicle.plate"), "") << bad;
  }
  auto q = validQuote();
  q["vehicle"]["plate"] = "К001МР77";  // two-digit region
  EXPECT_EQ(reasonFor(q, "vehicle.plate"), "");
}

TEST(QuoteInput, LicenceSeriesAndNumberFormats) {
  auto q = validQuote();
  q["drivers"][0]["licenseSeries"] = "77АВ";
  EXPECT_EQ(reasonFor(q, "drivers[0].licenseSeries"), "");
  q["drivers"][0]["licenseSeries"] = "7A12";
  EXPECT_NE(reasonFor(q, "drivers[0].licenseSeries"), "");
  q = validQuote();
  q["drivers"][0]["licenseNumber"] = "34567";
  EXPECT_EQ(reasonFor(q, "drivers[0].licenseNumber"), "must be 6 digits");
}

TEST(QuoteInput, NumericRanges) {
  auto q = validQuote();
  q["policy"]["usageMonths"] = 2;
  EXPECT_NE(reasonFor(q, "policy.usageMonths"), "");
  q = validQuote();
  q["vehicle"]["enginePowerHp"] = 0;
  EXPECT_NE(reasonFor(q, "vehicle.enginePowerHp"), "");
  q = validQuote();
  q["vehicle"]["enginePowerHp"] = "150";
  EXPECT_EQ(reasonFor(q, "vehicle.enginePowerHp"), "must be a whole number");
}

TEST(QuoteInput, DriversMustBeAtLeast16AndExperienceAfter16thBirthday) {
  auto q = validQuote();
  q["drivers"][0]["birthDate"] = "2011-01-01";
  EXPECT_NE(reasonFor(q, "drivers[0].birthDate").find("16"), std::string::npos);
  q = validQuote();
  q["drivers"][0]["experienceStartDate"] = "1995-01-01";  // aged 14
  EXPECT_NE(reasonFor(q, "drivers[0].experienceStartDate"), "");
  q = validQuote();
  q["drivers"][0]["experienceStartDate"] = "2027-01-01";
  EXPECT_EQ(reasonFor(q, "drivers[0].experienceStartDate"), "must not be in the future");
}

TEST(QuoteInput, PolicyStartWithinSixtyDays) {
  auto q = validQuote();
  q["policy"]["startDate"] = "2026-11-26";
  EXPECT_EQ(reasonFor(q, "policy.startDate"), "must not be in the past");
  q["policy"]["startDate"] = "2027-01-27";
  EXPECT_NE(reasonFor(q, "policy.startDate"), "");
  q["policy"]["startDate"] = "2026-11-27";
  EXPECT_EQ(reasonFor(q, "policy.startDate"), "");
}

TEST(QuoteInput, MultidriveMeansNoNamedDrivers) {
  auto q = validQuote();
  q["policy"]["multidrive"] = true;
  EXPECT_NE(reasonFor(q, "drivers"), "");
  q["drivers"] = json::array();
  EXPECT_TRUE(validateQuoteInput(q, kToday).ok());
  q["policy"]["multidrive"] = false;
  EXPECT_NE(reasonFor(q, "drivers"), "");
}

TEST(QuoteInput, SameLicenceTwiceIsRejected) {
  auto q = validQuote();
  q["drivers"].push_back(q["drivers"][0]);
  EXPECT_EQ(reasonFor(q, "drivers[1].licenseNumber"), "the same driving licence is listed twice");
}

TEST(QuoteInput, UnknownAndMissingFieldsAreNamed) {
  auto q = validQuote();
  q["vehicle"]["colour"] = "red";
  q["owner"].erase("regionCode");
  auto r = validateQuoteInput(q, kToday);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(reasonFor(q, "vehicle.colour"), "is not a known field");
  EXPECT_EQ(reasonFor(q, "owner.regionCode"), "is required");
  EXPECT_TRUE(r.input.is_null()) << "nothing normalised is returned for an invalid input";
}

TEST(QuoteInput, OnlyPassengerCars) {
  auto q = validQuote();
  q["vehicle"]["category"] = "C";
  EXPECT_NE(reasonFor(q, "vehicle.category"), "");
}

TEST(QuoteInput, NotAnObject) {
  auto r = validateQuoteInput(json::array(), kToday);
  ASSERT_EQ(r.errors.size(), 1u);
}

TEST(QuoteInput, TheNormalisedInputIsAcceptedUnchanged) {
  // A fixed point (the fuzz target quote_input checks it on every input): a
  // stored input sent again, with its "v", is the same input.
  auto first = validateQuoteInput(validQuote(), kToday);
  ASSERT_TRUE(first.ok());
  auto second = validateQuoteInput(first.input, kToday);
  ASSERT_TRUE(second.ok()) << osago::quote::toJson(second.errors).dump();
  EXPECT_EQ(second.input, first.input);
  auto other = first.input;
  other["v"] = 2;
  EXPECT_EQ(reasonFor(other, "v"), "must be 1, the only version of the quote input");
  other["v"] = "1";
  EXPECT_EQ(reasonFor(other, "v"), "must be 1, the only version of the quote input");
  other = first.input;
  other[""] = 1;  // the fuzz target found an unnamed refusal
  EXPECT_EQ(reasonFor(other, "\"\""), "is not a known field");
  other.erase("");
  other["v"] = "1";
  EXPECT_EQ(reasonFor(other, "v"), "must be 1, the only version of the quote input");
}

TEST(Buyer, ContactDataIsNormalisedOrRefusedFieldByField) {
  auto ok = osago::quote::validateBuyer({{"email", "Ivanov@Example.RU"}, {"phone", "8 (900) 123-45-67"}});
  ASSERT_TRUE(ok.ok()) << osago::quote::toJson(ok.errors).dump();
  EXPECT_EQ(ok.input, (nlohmann::json{{"email", "Ivanov@example.ru"}, {"phone", "+79001234567"}}));
  EXPECT_EQ(osago::quote::validateBuyer({{"email", "a@b.ru"}, {"phone", "+7 900 123-45-67"}}).input["phone"], "+79001234567");

  auto fields = [](const nlohmann::json& buyer) {
    std::vector<std::string> out;
    for (const auto& e : osago::quote::validateBuyer(buyer).errors) out.push_back(e.field);
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(fields(nullptr), V{"buyer"});
  EXPECT_EQ(fields("ivanov@example.ru"), V{"buyer"});
  EXPECT_EQ(fields(nlohmann::json::object()), (V{"buyer.email", "buyer.phone"}));
  EXPECT_EQ(fields({{"email", 7}, {"phone", true}}), (V{"buyer.email", "buyer.phone"}));
  for (const char* bad : {"ivanov", "@example.ru", "ivanov@", "ivanov@example", "a@b@example.ru", "ivanov @example.ru",
                          "ivanov@example.ru.", "<script>@example.ru", "иванов@example.ru", "ivanov@example.ru\n"})
    EXPECT_EQ(fields({{"email", bad}, {"phone", "+79001234567"}}), V{"buyer.email"}) << bad;
  EXPECT_EQ(fields({{"email", std::string(250, 'a') + "@example.ru"}, {"phone", "+79001234567"}}), V{"buyer.email"});
  for (const char* bad : {"", "123", "+8 900 123-45-67", "+79001234567890", "9001234567", "+7 900 ABC-45-67", "+7 900 123 45 67 ext 2"})
    EXPECT_EQ(fields({{"email", "a@b.ru"}, {"phone", bad}}), V{"buyer.phone"}) << bad;
  EXPECT_EQ(fields({{"email", "a@b.ru"}, {"phone", "+79001234567"}, {"card", "4111"}}), V{"buyer.card"});
}

}  // namespace
