// The Volna adapter against recorded partner bodies, through the real ABI table.
#include "volna_insurer.hpp"

#include <osago/plugin_testing/fake_host.hpp>

#include <gtest/gtest.h>

extern "C" const osago_plugin_api* osago_plugin_entry(uint16_t, uint16_t);

namespace {

using nlohmann::json;

class VolnaTest : public ::testing::Test {
 protected:
  osago::testing::FakeHost host_{{{"apiKey", "vk"}}};
  osago::testing::PluginUnderTest plugin_{osago_plugin_entry(OSAGO_PLUGIN_ABI_MAJOR, OSAGO_PLUGIN_ABI_MINOR), host_,
                                          json{{"baseUrl", "http://sim/sibir-rezerv/"}}};
};

TEST_F(VolnaTest, SubmitSendsTheApiKeyAndReturnsTheId) {
  host_.respond(200, R"({"id":"v-9","state":"processing"})", "2");
  auto r = plugin_.submit(json{{"v", 1}});
  ASSERT_EQ(r.status, OSAGO_STATUS_OK);
  EXPECT_EQ(r.reply["outcome"], "PENDING");
  EXPECT_EQ(r.reply["externalId"], "v-9");
  EXPECT_EQ(r.reply["retryAfterMs"], 2000);
  EXPECT_EQ(host_.requests[0].header("Authorization"), "ApiKey vk");
  EXPECT_EQ(host_.requests[0].url, "http://sim/sibir-rezerv/osago/applications");
}

TEST_F(VolnaTest, ProcessingAndHoldArePending) {
  host_.respond(200, R"({"id":"v-9","state":"processing"})", "1");
  host_.respond(200, R"({"id":"v-9","state":"hold"})", "12");
  EXPECT_EQ(plugin_.poll("v-9").reply["outcome"], "PENDING");
  auto hold = plugin_.poll("v-9");
  EXPECT_EQ(hold.reply["outcome"], "PENDING");
  EXPECT_EQ(hold.reply["retryAfterMs"], 12000);
}

TEST_F(VolnaTest, DoneIsAnOfferInRubles) {
  host_.respond(200, R"({"id":"v-9","state":"done","quoteRef":"q-1","price":{"value":"13133.16","cur":"RUR"}})");
  auto r = plugin_.poll("v-9");
  ASSERT_EQ(r.status, OSAGO_STATUS_OK);
  EXPECT_EQ(r.reply["offer"]["premium"]["amount"], "13133.16");
  EXPECT_EQ(r.reply["offer"]["premium"]["currency"], "RUB");
  EXPECT_EQ(r.reply["offer"]["offerId"], "q-1");
}

TEST_F(VolnaTest, RejectedAndErrorStates) {
  host_.respond(200, R"({"id":"v-9","state":"rejected","why":"REGION_NOT_SERVED","comment":"no"})");
  auto r = plugin_.poll("v-9");
  EXPECT_EQ(r.reply["outcome"], "DECLINED");
  EXPECT_EQ(r.reply["reason"], "REGION_NOT_SERVED");
  host_.respond(200, R"({"id":"v-9","state":"error","errorText":"RSA unavailable"})");
  auto e = plugin_.poll("v-9");
  EXPECT_EQ(e.status, OSAGO_STATUS_PERMANENT);
  EXPECT_NE(e.reply["message"].get<std::string>().find("RSA unavailable"), std::string::npos);
}

TEST_F(VolnaTest, ALongDeclineIsCutToTheOutcomeBoundsAndALongIdIsThePartnersError) {
  // Found by fuzz_plugin_volna: a 200-byte "why" went into the outcome as is,
  // and the host refused the whole decline as the plugin's error.
  std::string why(200, 'W'), comment = "!";
  for (int i = 0; i < 700; ++i) comment += "ж";  // byte 1,000 falls inside a two-byte character
  host_.respond(200, json{{"id", "v-9"}, {"state", "rejected"}, {"why", why}, {"comment", comment}}.dump());
  auto r = plugin_.poll("v-9");
  ASSERT_EQ(r.status, OSAGO_STATUS_OK);
  EXPECT_EQ(r.reply["reason"], std::string(OSAGO_OUTCOME_MAX_DECLINE_REASON, 'W'));
  std::string message = r.reply["message"];
  EXPECT_EQ(message, comment.substr(0, 999));  // "!" and 499 whole characters, never half of one

  host_.respond(200, json{{"id", std::string(300, 'i')}, {"state", "processing"}}.dump());
  auto s = plugin_.submit(json{{"v", 1}});
  EXPECT_EQ(s.status, OSAGO_STATUS_PERMANENT);
  EXPECT_NE(s.reply.value("message", "").find("300 bytes"), std::string::npos) << s.reply.dump();
}

TEST_F(VolnaTest, APriceOverNineDigitsOfRublesIsThePartnersError) {
  // Found by fuzz_plugin_volna: a 96-digit price went out as an offer, which the host refused as the plugin's error.
  host_.respond(200, R"({"id":"v-9","state":"done","price":{"value":")" + std::string(96, '4') + R"(.16","cur":"RUB"}})");
  auto r = plugin_.poll("v-9");
  EXPECT_EQ(r.status, OSAGO_STATUS_PERMANENT);
  host_.respond(200, R"({"id":"v-9","state":"done","price":{"value":"999999999.99","cur":"RUB"}})");
  EXPECT_EQ(plugin_.poll("v-9").reply["offer"]["premium"]["amount"], "999999999.99") << "the largest amount passes";
}

TEST_F(VolnaTest, MalformedAndUnauthorized) {
  host_.respond(200, R"({"state": "done", "price": {"value": 13133.16}})");
  EXPECT_EQ(plugin_.poll("v-9").status, OSAGO_STATUS_PERMANENT);
  host_.respond(200, R"({"status": "offer", "premium": {"amount": )");
  EXPECT_EQ(plugin_.poll("v-9").status, OSAGO_STATUS_PERMANENT);
  host_.respond(401, R"({"error":"UNAUTHORIZED"})");
  auto r = plugin_.poll("v-9");
  EXPECT_EQ(r.status, OSAGO_STATUS_PERMANENT);
  EXPECT_NE(r.reply["message"].get<std::string>().find("apiKey"), std::string::npos);
  host_.respond(503, "<html>");
  EXPECT_EQ(plugin_.poll("v-9").status, OSAGO_STATUS_TRANSIENT);
}

TEST_F(VolnaTest, AWrongTypedFieldIsPermanentAndNamed) {
  // Valid JSON with a field of the wrong type: the partner's error, named, never an exception.
  host_.respond(200, R"({"state":[]})");
  {
    auto r = plugin_.poll("v-9");
    EXPECT_EQ(r.status, OSAGO_STATUS_PERMANENT) << R"({"state":[]})";
    EXPECT_NE(r.reply.value("message", "").find("'state'"), std::string::npos) << r.reply.dump();
  }
  host_.respond(200, R"({"state":"rejected","why":3})");
  {
    auto r = plugin_.poll("v-9");
    EXPECT_EQ(r.status, OSAGO_STATUS_PERMANENT) << R"({"state":"rejected","why":3})";
    EXPECT_NE(r.reply.value("message", "").find("'why'"), std::string::npos) << r.reply.dump();
  }
  host_.respond(200, R"({"state":"done","price":null})");
  {
    auto r = plugin_.poll("v-9");
    EXPECT_EQ(r.status, OSAGO_STATUS_PERMANENT) << R"({"state":"done","price":null})";
    EXPECT_NE(r.reply.value("message", "").find("'price'"), std::string::npos) << r.reply.dump();
  }
}

TEST_F(VolnaTest, SellsAnOfferByItsQuoteRef) {
  ASSERT_TRUE(plugin_.purchasable());
  host_.respond(200, R"({"id":"vp-1","state":"checking"})", "3");
  auto r = plugin_.issue(osago::testing::samplePurchase());
  ASSERT_EQ(r.status, OSAGO_STATUS_OK) << r.reply_text;
  EXPECT_EQ(r.reply["outcome"], "PENDING");
  EXPECT_EQ(r.reply["retryAfterMs"], 3000);
  EXPECT_EQ(host_.requests[0].header("X-Request-Id"), "5b0c5a0e-0d5c-4a55-9a43-3e1c2f8b7a61");
  EXPECT_EQ(json::parse(host_.requests[0].body)["quoteRef"], "app-17-1");
  host_.respond(200, R"({"id":"vp-1","state":"awaiting_payment","pay":{"url":"https://pay.partner.ru/v","till":"2025-12-07T15:30:00Z"}})");
  EXPECT_EQ(plugin_.issuePoll("vp-1").reply["outcome"], "PAYMENT");
  host_.respond(200, R"({"id":"vp-1","state":"paid"})");
  EXPECT_EQ(plugin_.issuePoll("vp-1").reply["outcome"], "PAID");
  host_.respond(200, R"({"id":"vp-1","state":"done","policy":{"no":"ХХХ 0123456789","pdf":"https://partner.ru/p.pdf"}})");
  auto issued = plugin_.issuePoll("vp-1");
  EXPECT_EQ(issued.reply["policyNumber"], "ХХХ 0123456789");
  EXPECT_EQ(issued.reply["policyUrl"], "https://partner.ru/p.pdf");
  host_.respond(200, R"({"id":"vp-1","state":"done","policy":{"no":"ХХХ\n0123456789"}})");
  EXPECT_EQ(plugin_.issuePoll("vp-1").status, OSAGO_STATUS_PERMANENT) << "a policy number with a control character";
}

}  // namespace
