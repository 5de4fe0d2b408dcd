// The Potok adapter (asynchronous operations) against recorded partner bodies,
// through the real ABI table and the fake host.
#include "potok_insurer.hpp"

#include <osago/plugin_testing/fake_host.hpp>

#include <gtest/gtest.h>

extern "C" const osago_plugin_api* osago_plugin_entry(uint16_t, uint16_t);

namespace {

using nlohmann::json;

class PotokTest : public ::testing::Test {
 protected:
  osago::testing::FakeHost host_{{{"apiKey", "pk"}}};
  osago::testing::PluginUnderTest plugin_{osago_plugin_entry(OSAGO_PLUGIN_ABI_MAJOR, OSAGO_PLUGIN_ABI_MINOR), host_,
                                          json{{"baseUrl", "http://sim/kamskaya/"}, {"maxHoldSeconds", 3}}};
};

TEST_F(PotokTest, WhatTheInsurerFinishesWithinTheHoldIsAnsweredAtOnce) {
  host_.respond(200, R"({"calculationId":"c-1","status":"DONE","result":{"outcome":"QUOTED","premiumKopecks":1237181,
                        "tariff":{"tb":"6700.00","kbm":"0.83"}}})");
  auto r = plugin_.submit(json{{"v", 1}});
  ASSERT_EQ(r.status, OSAGO_STATUS_OK) << r.reply_text;
  EXPECT_EQ(r.reply["outcome"], "OFFER");
  EXPECT_EQ(r.reply["externalId"], "c-1");
  EXPECT_EQ(r.reply["offer"]["premium"]["amount"], "12371.81");
  EXPECT_EQ(r.reply["offer"]["factors"]["kbm"], "0.83");
  EXPECT_EQ(host_.requests[0].url, "http://sim/kamskaya/sales/v2/calculations");
  EXPECT_EQ(host_.requests[0].header("Authorization"), "Token pk");
  EXPECT_EQ(host_.requests[0].header("desired-timeout"), "3") << "the call's budget allows the most the settings do";
}

TEST_F(PotokTest, AnythingLongerIsAnOperationToPoll) {
  host_.respond(202, R"({"draftId":"d-7","href":"/sales/v2/operations?oper_id=d-7"})");
  auto r = plugin_.submit(json{{"v", 1}});
  EXPECT_EQ(r.reply["outcome"], "PENDING");
  EXPECT_EQ(r.reply["externalId"], "d-7");
  host_.respond(200, R"({"operId":"d-7","status":"RUNNING"})", "1");
  r = plugin_.poll("d-7");
  EXPECT_EQ(r.reply["outcome"], "PENDING");
  EXPECT_EQ(r.reply["retryAfterMs"], 1000);
  EXPECT_EQ(host_.requests.back().url, "http://sim/kamskaya/sales/v2/operations?oper_id=d-7");
  // A 504 from the partner's gateway: still running, come back in a minute.
  host_.respond(504, "<html>Gateway Timeout</html>");
  EXPECT_EQ(plugin_.poll("d-7").reply["retryAfterMs"], 60000);
  host_.respond(200, R"({"operId":"d-7","status":"DONE","result":{"outcome":"REFUSED","refusal":{"code":"KBM","text":"no"}}})");
  r = plugin_.poll("d-7");
  EXPECT_EQ(r.reply["outcome"], "DECLINED");
  EXPECT_EQ(r.reply["reason"], "KBM");
  // A 202 that names no operation is the partner's error, as is a price that is no price.
  host_.respond(202, R"({"href":"/sales/v2/operations"})");
  EXPECT_EQ(plugin_.submit(json{{"v", 1}}).status, OSAGO_STATUS_PERMANENT);
  host_.respond(200, R"({"operId":"d-7","status":"DONE","result":{"outcome":"QUOTED","premiumKopecks":-5}})");
  EXPECT_EQ(plugin_.poll("d-7").status, OSAGO_STATUS_PERMANENT);
}

TEST_F(PotokTest, TheHoldNeverOutlastsTheCallsBudget) {
  using osago::plugins::potok::holdSeconds;
  EXPECT_EQ(holdSeconds(60'000, 0, 3), 3);
  EXPECT_EQ(holdSeconds(4'000, 0, 3), 2);
  EXPECT_EQ(holdSeconds(1'000, 0, 3), 0);
  EXPECT_EQ(holdSeconds(0, 5'000, 3), 0) << "past the deadline: do not wait at all";
}

TEST_F(PotokTest, SellsThroughTheSameOperations) {
  ASSERT_TRUE(plugin_.purchasable());
  host_.respond(202, R"({"draftId":"p-1","href":"/sales/v2/operations?oper_id=p-1"})");
  auto r = plugin_.issue({{"v", 1}, {"purchaseId", "5b0c"}, {"applicationId", "c-1"},
                          {"offer", {{"offerId", "c-1"}}}, {"buyer", {{"email", "a@b.ru"}, {"phone", "+79001234567"}}}});
  ASSERT_EQ(r.status, OSAGO_STATUS_OK) << r.reply_text;
  EXPECT_EQ(r.reply["outcome"], "PENDING");
  EXPECT_EQ(r.reply["externalId"], "p-1");
  auto sent = json::parse(host_.requests[0].body);
  EXPECT_EQ(sent["calculationId"], "c-1");
  EXPECT_EQ(sent["clientRequestId"], "5b0c");
  host_.respond(200, R"({"policyId":"p-1","status":"AWAITING_PAYMENT","payment":{"href":"https://pay.kama.ru/p-1",
                        "validTill":"2025-12-07T15:30:00.000Z"}})");
  r = plugin_.issuePoll("p-1");
  EXPECT_EQ(host_.requests.back().url, "http://sim/kamskaya/sales/v2/policies/p-1");
  EXPECT_EQ(r.reply["outcome"], "PAYMENT");
  EXPECT_EQ(r.reply["expiresAtUnixMs"], 1'765'121'400'000LL);
  host_.respond(200, R"({"policyId":"p-1","status":"ISSUED","policy":{"series":"ХХХ","number":"0123456789"}})");
  EXPECT_EQ(plugin_.issuePoll("p-1").reply["policyNumber"], "ХХХ 0123456789");
  host_.respond(200, R"({"policyId":"p-1","status":"REFUSED","refusal":{"code":"PAYMENT_EXPIRED","text":"late"}})");
  EXPECT_EQ(plugin_.issuePoll("p-1").reply["reason"], "PAYMENT_EXPIRED");
}

}  // namespace
