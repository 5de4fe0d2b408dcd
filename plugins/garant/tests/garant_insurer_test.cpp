// The Garant adapter against recorded partner bodies, through the real ABI table.
#include "garant_insurer.hpp"

#include <osago/plugin_testing/fake_host.hpp>

#include <gtest/gtest.h>

extern "C" const osago_plugin_api* osago_plugin_entry(uint16_t, uint16_t);

namespace {

using nlohmann::json;

json quote() {
  return json::parse(R"({"v":1,"vehicle":{"category":"B","make":"Toyota","model":"Camry","year":2020,"enginePowerHp":150,
    "vin":"XTA21099043765439","plate":"А123ВЕ777"},
    "owner":{"lastName":"Иванов","firstName":"Иван","birthDate":"1980-06-12","regionCode":"77"},
    "drivers":[{"lastName":"Иванов","firstName":"Иван","birthDate":"1980-06-12","licenseSeries":"7712",
                "licenseNumber":"345678","experienceStartDate":"2005-05-20"}],
    "policy":{"startDate":"2026-12-15","usageMonths":12,"multidrive":false}})");
}

class GarantTest : public ::testing::Test {
 protected:
  osago::testing::FakeHost host_{{{"clientSecret", "s3cret"}}};
  osago::testing::PluginUnderTest plugin_{osago_plugin_entry(OSAGO_PLUGIN_ABI_MAJOR, OSAGO_PLUGIN_ABI_MINOR), host_,
                                          json{{"baseUrl", "http://sim/volga-garant"}, {"clientId", "agg"}}};
};

TEST_F(GarantTest, FetchesATokenThenSubmitsASnakeCaseApplication) {
  host_.respond(200, R"({"access_token":"t-1","token_type":"Bearer","expires_in":300})");
  host_.respond(201, R"({"application_id":"g-42"})");
  auto r = plugin_.submit(quote());
  ASSERT_EQ(r.status, OSAGO_STATUS_OK) << r.reply.dump();
  EXPECT_EQ(r.reply["outcome"], "PENDING");
  EXPECT_EQ(r.reply["externalId"], "g-42");
  ASSERT_EQ(host_.requests.size(), 2u);
  EXPECT_EQ(host_.requests[0].url, "http://sim/volga-garant/oauth/token");
  EXPECT_EQ(json::parse(host_.requests[0].body), (json{{"client_id", "agg"}, {"client_secret", "s3cret"}}));
  EXPECT_EQ(host_.requests[1].header("Authorization"), "Bearer t-1");
  auto app = json::parse(host_.requests[1].body);
  EXPECT_EQ(app["vehicle"]["power_hp"], 150);
  EXPECT_EQ(app["owner"]["region_code"], "77");
  EXPECT_EQ(app["drivers"][0]["licence_number"], "345678");
  EXPECT_EQ(app["policy"]["unlimited_drivers"], false);
}

TEST_F(GarantTest, ReusesTheTokenUntilItExpires) {
  host_.respond(200, R"({"access_token":"t-1","expires_in":60})");
  host_.respond(202, R"({"status":"IN_PROGRESS"})", "3");
  host_.respond(202, R"({"status":"IN_PROGRESS"})", "3");
  EXPECT_EQ(plugin_.poll("g-42").reply["outcome"], "PENDING");
  EXPECT_EQ(plugin_.poll("g-42").reply["outcome"], "PENDING");
  EXPECT_EQ(host_.requests.size(), 3u) << "one token for both polls";
  host_.now_unix_ms += 55'000;  // past expires_in minus the 10 s margin
  host_.respond(200, R"({"access_token":"t-2","expires_in":60})");
  host_.respond(202, "{}", "1");
  plugin_.poll("g-42");
  EXPECT_EQ(host_.requests.back().header("Authorization"), "Bearer t-2");
}

TEST_F(GarantTest, ATokenLifetimeOutOfAllReasonIsHeldToADay) {
  // 3.7e18 s (found by the fuzz target: its milliseconds overflowed) and a negative one.
  host_.respond(200, R"({"access_token":"t-1","expires_in":3777777777777777770})");
  host_.respond(202, "{}", "1");
  EXPECT_EQ(plugin_.poll("g-42").reply["outcome"], "PENDING");
  host_.now_unix_ms += 86'400'000;  // a day later the token is renewed
  host_.respond(200, R"({"access_token":"t-2","expires_in":-5})");
  host_.respond(202, "{}", "1");
  plugin_.poll("g-42");
  EXPECT_EQ(host_.requests.back().header("Authorization"), "Bearer t-2");
  host_.now_unix_ms += 1'001;  // -5 s was held to 1 s: renewed a second later
  host_.respond(200, R"({"access_token":"t-3","expires_in":60})");
  host_.respond(202, "{}", "1");
  plugin_.poll("g-42");
  EXPECT_EQ(host_.requests.back().header("Authorization"), "Bearer t-3");
}

TEST_F(GarantTest, RefreshesTheTokenOnceOn401) {
  host_.respond(200, R"({"access_token":"t-1","expires_in":300})");
  host_.respond(401, R"({"error":"invalid_token"})");
  host_.respond(200, R"({"access_token":"t-2","expires_in":300})");
  host_.respond(200, R"({"status":"APPROVED","offer_id":"o-1","premium_kopecks":1237181})");
  auto r = plugin_.poll("g-42");
  ASSERT_EQ(r.status, OSAGO_STATUS_OK);
  EXPECT_EQ(r.reply["offer"]["premium"]["amount"], "12371.81");
  EXPECT_EQ(host_.requests[3].header("Authorization"), "Bearer t-2");
}

TEST_F(GarantTest, PendingIs202WithRetryAfterInSeconds) {
  host_.respond(200, R"({"access_token":"t-1","expires_in":300})");
  host_.respond(202, R"({"application_id":"g-42","status":"IN_PROGRESS"})", "4");
  auto r = plugin_.poll("g-42");
  EXPECT_EQ(r.reply["outcome"], "PENDING");
  EXPECT_EQ(r.reply["retryAfterMs"], 4000);
}

TEST_F(GarantTest, KopecksBecomeRublesAndRejectionsKeepTheirCode) {
  host_.respond(200, R"({"access_token":"t-1","expires_in":300})");
  host_.respond(200, R"({"status":"APPROVED","offer_id":"o-1","premium_kopecks":1370416,"coefficients":{"kt":"1.80"}})");
  auto offer = plugin_.poll("g-42");
  EXPECT_EQ(offer.reply["offer"]["premium"]["amount"], "13704.16");
  EXPECT_EQ(offer.reply["offer"]["factors"]["kt"], "1.80");
  host_.respond(200, R"({"status":"REJECTED","reject_code":"REGION_NOT_SERVED","reject_reason":"no"})");
  auto declined = plugin_.poll("g-42");
  EXPECT_EQ(declined.reply["outcome"], "DECLINED");
  EXPECT_EQ(declined.reply["reason"], "REGION_NOT_SERVED");
}

TEST_F(GarantTest, BadAnswers) {
  host_.respond(200, R"({"access_token":"t-1","expires_in":300})");
  host_.respond(200, R"({"status":"APPROVED","premium_kopecks":"1237181"})");
  EXPECT_EQ(plugin_.poll("g").status, OSAGO_STATUS_PERMANENT);
  host_.respond(200, R"({"status":"APPROVED","offer_id":"o-1","premium_kopecks":9223372036854775807})");
  EXPECT_EQ(plugin_.poll("g").status, OSAGO_STATUS_PERMANENT) << "92 quadrillion rubles is no premium the host takes";
  host_.respond(503, "busy");
  EXPECT_EQ(plugin_.poll("g").status, OSAGO_STATUS_TRANSIENT);
  host_.respond(422, R"({"error":"BAD_APPLICATION"})");
  EXPECT_EQ(plugin_.submit(quote()).status, OSAGO_STATUS_INVALID_INPUT);
}

TEST_F(GarantTest, WrongClientSecretIsAClearPermanentError) {
  host_.respond(401, R"({"error":"invalid_client"})");
  auto r = plugin_.poll("g");
  EXPECT_EQ(r.status, OSAGO_STATUS_PERMANENT);
  EXPECT_NE(r.reply["message"].get<std::string>().find("clientSecret"), std::string::npos);
}

TEST_F(GarantTest, AWrongTypedFieldIsPermanentAndNamed) {
  // Valid JSON with a field of the wrong type: the partner's error, named, never an exception.
  host_.respond(200, R"({"access_token":"t-1","expires_in":300})");  // one token for every poll below
  host_.respond(200, R"({"status":false})");
  {
    auto r = plugin_.poll("g-1");
    EXPECT_EQ(r.status, OSAGO_STATUS_PERMANENT) << R"({"status":false})";
    EXPECT_NE(r.reply.value("message", "").find("'status'"), std::string::npos) << r.reply.dump();
  }
  host_.respond(200, R"({"status":"REJECTED","reject_code":{"c":1}})");
  {
    auto r = plugin_.poll("g-1");
    EXPECT_EQ(r.status, OSAGO_STATUS_PERMANENT) << R"({"status":"REJECTED","reject_code":{"c":1}})";
    EXPECT_NE(r.reply.value("message", "").find("'reject_code'"), std::string::npos) << r.reply.dump();
  }
  host_.respond(200, R"({"status":"APPROVED","premium_kopecks":100,"offer_id":5})");
  {
    auto r = plugin_.poll("g-1");
    EXPECT_EQ(r.status, OSAGO_STATUS_PERMANENT) << R"({"status":"APPROVED","premium_kopecks":100,"offer_id":5})";
    EXPECT_NE(r.reply.value("message", "").find("'offer_id'"), std::string::npos) << r.reply.dump();
  }
}

TEST_F(GarantTest, SellsAnOfferInItsOwnWords) {
  ASSERT_TRUE(plugin_.purchasable());
  host_.respond(200, R"({"access_token":"t-1","expires_in":300})");
  host_.respond(202, R"({"policy_id":"g-pol","status":"VALIDATION"})", "2");
  auto r = plugin_.issue(osago::testing::samplePurchase());
  ASSERT_EQ(r.status, OSAGO_STATUS_OK) << r.reply_text;
  EXPECT_EQ(r.reply["outcome"], "PENDING");
  EXPECT_EQ(r.reply["externalId"], "g-pol");
  EXPECT_EQ(r.reply["retryAfterMs"], 2000);
  auto body = json::parse(host_.requests.back().body);
  EXPECT_EQ(body["request_id"], "5b0c5a0e-0d5c-4a55-9a43-3e1c2f8b7a61");
  EXPECT_EQ(body["application_id"], "app-17");
  host_.respond(200, R"({"policy_id":"g-pol","status":"PAYMENT","payment_link":"https://pay.partner.ru/g","payment_deadline":1765121400})");
  r = plugin_.issuePoll("g-pol");
  EXPECT_EQ(r.reply["outcome"], "PAYMENT");
  EXPECT_EQ(r.reply["expiresAtUnixMs"], 1'765'121'400'000LL);
  host_.respond(200, R"({"policy_id":"g-pol","status":"ISSUED","policy_series":"ХХХ","policy_number":"0123456789"})");
  EXPECT_EQ(plugin_.issuePoll("g-pol").reply["policyNumber"], "ХХХ 0123456789");
  host_.respond(200, R"({"policy_id":"g-pol","status":"DECLINED","decline_code":"KBM_MISMATCH","decline_reason":"no"})");
  EXPECT_EQ(plugin_.issuePoll("g-pol").reply["reason"], "KBM_MISMATCH");
  host_.respond(200, R"({"policy_id":"g-pol","status":"PAYMENT","payment_link":"https://pay.partner.ru/g","payment_deadline":"tomorrow"})");
  EXPECT_EQ(plugin_.issuePoll("g-pol").status, OSAGO_STATUS_PERMANENT);
}

}  // namespace
