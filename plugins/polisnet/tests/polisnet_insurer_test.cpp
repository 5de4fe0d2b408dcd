// The PolisNet adapter against recorded partner bodies, through the real ABI
// table and the fake host: no network.
#include "polisnet_insurer.hpp"

#include <osago/plugin_testing/fake_host.hpp>

#include <gtest/gtest.h>

extern "C" const osago_plugin_api* osago_plugin_entry(uint16_t, uint16_t);

namespace {

using nlohmann::json;

class PolisNetTest : public ::testing::Test {
 protected:
  osago::testing::FakeHost host_{{{"apiKey", "key-1"}}};
  osago::testing::PluginUnderTest plugin_{osago_plugin_entry(OSAGO_PLUGIN_ABI_MAJOR, OSAGO_PLUGIN_ABI_MINOR), host_,
                                          json{{"baseUrl", "http://sim/severny-shchit/"}, {"timeoutMs", 1500}}};
};

TEST_F(PolisNetTest, TableDeclaresItsAbiAndIdentity) {
  EXPECT_EQ(plugin_.api().struct_size, sizeof(osago_plugin_api));
  EXPECT_EQ(plugin_.api().abi_major, OSAGO_PLUGIN_ABI_MAJOR);
  EXPECT_STREQ(plugin_.api().plugin_id, "polisnet");
}

TEST_F(PolisNetTest, SubmitPostsTheQuoteAndReturnsPendingWithApplicationId) {
  host_.respond(201, R"({"applicationId":"app-17"})");
  auto r = plugin_.submit(json{{"v", 1}, {"vehicle", {{"vin", "XTA21099043765439"}}}});
  ASSERT_EQ(r.status, OSAGO_STATUS_OK);
  EXPECT_EQ(r.reply["outcome"], "PENDING");
  EXPECT_EQ(r.reply["externalId"], "app-17");
  ASSERT_EQ(host_.requests.size(), 1u);
  EXPECT_EQ(host_.requests[0].method, "POST");
  EXPECT_EQ(host_.requests[0].url, "http://sim/severny-shchit/osago/applications");
  EXPECT_EQ(host_.requests[0].header("X-Correlation-Id"), "test-correlation");
  EXPECT_EQ(host_.requests[0].header("X-Api-Key"), "key-1");
  EXPECT_EQ(json::parse(host_.requests[0].body)["vehicle"]["vin"], "XTA21099043765439");
}

TEST_F(PolisNetTest, PendingOfferStaysPending) {
  host_.respond(200, R"({"applicationId":"app-17","status":"pending"})");
  auto r = plugin_.poll("app-17");
  ASSERT_EQ(r.status, OSAGO_STATUS_OK);
  EXPECT_EQ(r.reply["outcome"], "PENDING");
  EXPECT_EQ(host_.requests[0].url, "http://sim/severny-shchit/osago/applications/app-17/offer");
}

TEST_F(PolisNetTest, OfferMapsPremiumAndFactors) {
  host_.respond(200, R"({"applicationId":"app-17","status":"offer","offerId":"app-17-1",
    "premium":{"amount":"12371.81","currency":"RUB"},"factors":{"kt":"1.80","tb":"6500.00"}})");
  auto r = plugin_.poll("app-17");
  ASSERT_EQ(r.status, OSAGO_STATUS_OK);
  EXPECT_EQ(r.reply["outcome"], "OFFER");
  EXPECT_EQ(r.reply["offer"]["premium"]["amount"], "12371.81");
  EXPECT_EQ(r.reply["offer"]["premium"]["currency"], "RUB");
  EXPECT_EQ(r.reply["offer"]["offerId"], "app-17-1");
  EXPECT_EQ(r.reply["offer"]["factors"]["kt"], "1.80");
}

TEST_F(PolisNetTest, DeclineKeepsReasonCode) {
  host_.respond(200, R"({"status":"declined","reason":"DRIVER_TOO_YOUNG","message":"drivers under 23 are not insured"})");
  auto r = plugin_.poll("app-17");
  ASSERT_EQ(r.status, OSAGO_STATUS_OK);
  EXPECT_EQ(r.reply["outcome"], "DECLINED");
  EXPECT_EQ(r.reply["reason"], "DRIVER_TOO_YOUNG");
}

TEST_F(PolisNetTest, ServerErrorIsTransient) {
  host_.respond(503, "<html>busy</html>");
  auto r = plugin_.poll("app-17");
  EXPECT_EQ(r.status, OSAGO_STATUS_TRANSIENT);
  EXPECT_NE(r.reply["message"].get<std::string>().find("503"), std::string::npos);
}

TEST_F(PolisNetTest, RejectedApplicationIsInvalidInput) {
  host_.respond(400, R"({"error":"BAD_APPLICATION"})");
  auto r = plugin_.submit(json::object());
  EXPECT_EQ(r.status, OSAGO_STATUS_INVALID_INPUT);
}

TEST_F(PolisNetTest, MalformedBodyIsPermanent) {
  host_.respond(200, R"({"status":"offer","premium":{"amount":12371.81,"currency":"RUB"}})");
  EXPECT_EQ(plugin_.poll("app-17").status, OSAGO_STATUS_PERMANENT);
  host_.respond(200, "not json at all");
  EXPECT_EQ(plugin_.poll("app-17").status, OSAGO_STATUS_PERMANENT);
  host_.respond(200, R"({"status":"weird"})");
  EXPECT_EQ(plugin_.poll("app-17").status, OSAGO_STATUS_PERMANENT);
}

TEST_F(PolisNetTest, HostTimeoutBecomesTimeoutStatus) {
  host_.failNext(OSAGO_STATUS_TIMEOUT);
  auto r = plugin_.poll("app-17");
  EXPECT_EQ(r.status, OSAGO_STATUS_TIMEOUT);
}

TEST(PolisNetCreate, MissingApiKeyIsRefusedWithAReason) {
  osago::testing::FakeHost host;
  auto* api = osago_plugin_entry(OSAGO_PLUGIN_ABI_MAJOR, OSAGO_PLUGIN_ABI_MINOR);
  void* instance = nullptr;
  EXPECT_EQ(api->create(host.api(), osago::sdk::toAbi(R"({"baseUrl":"http://sim/x"})"), &instance), OSAGO_STATUS_INVALID_INPUT);
  ASSERT_FALSE(host.logs.empty());
  EXPECT_NE(host.logs[0].find("apiKey"), std::string::npos) << host.logs[0];
}

TEST(PolisNetCreate, MissingBaseUrlIsRefusedWithAReason) {
  osago::testing::FakeHost host;
  host.secrets["apiKey"] = "key-1";
  auto* api = osago_plugin_entry(OSAGO_PLUGIN_ABI_MAJOR, OSAGO_PLUGIN_ABI_MINOR);
  void* instance = nullptr;
  EXPECT_EQ(api->create(host.api(), osago::sdk::toAbi("{}"), &instance), OSAGO_STATUS_INVALID_INPUT);
  EXPECT_EQ(instance, nullptr);
  ASSERT_FALSE(host.logs.empty());
  EXPECT_NE(host.logs[0].find("baseUrl"), std::string::npos);
}

TEST_F(PolisNetTest, AWrongTypedFieldIsPermanentAndNamed) {
  // Valid JSON with a field of the wrong type: the partner's error, named, never an exception.
  host_.respond(200, R"({"status":7})");
  {
    auto r = plugin_.poll("app-17");
    EXPECT_EQ(r.status, OSAGO_STATUS_PERMANENT) << R"({"status":7})";
    EXPECT_NE(r.reply.value("message", "").find("'status'"), std::string::npos) << r.reply.dump();
  }
  host_.respond(200, R"({"status":"declined","reason":null})");
  {
    auto r = plugin_.poll("app-17");
    EXPECT_EQ(r.status, OSAGO_STATUS_PERMANENT) << R"({"status":"declined","reason":null})";
    EXPECT_NE(r.reply.value("message", "").find("'reason'"), std::string::npos) << r.reply.dump();
  }
  host_.respond(200, R"({"status":"offer","premium":"a lot"})");
  {
    auto r = plugin_.poll("app-17");
    EXPECT_EQ(r.status, OSAGO_STATUS_PERMANENT) << R"({"status":"offer","premium":"a lot"})";
    EXPECT_NE(r.reply.value("message", "").find("'premium'"), std::string::npos) << r.reply.dump();
  }
  host_.respond(200, R"({"status":"offer","premium":{"amount":["1"]}})");
  {
    auto r = plugin_.poll("app-17");
    EXPECT_EQ(r.status, OSAGO_STATUS_PERMANENT) << R"({"status":"offer","premium":{"amount":["1"]}})";
    EXPECT_NE(r.reply.value("message", "").find("'amount'"), std::string::npos) << r.reply.dump();
  }
}

TEST_F(PolisNetTest, SellsAnOfferThroughPaymentToThePolicy) {
  ASSERT_TRUE(plugin_.purchasable());
  host_.respond(201, R"({"policyId":"pol-3","status":"pending"})");
  auto r = plugin_.issue(osago::testing::samplePurchase());
  ASSERT_EQ(r.status, OSAGO_STATUS_OK) << r.reply_text;
  EXPECT_EQ(r.reply["outcome"], "PENDING");
  EXPECT_EQ(r.reply["externalId"], "pol-3");
  EXPECT_EQ(host_.requests[0].url, "http://sim/severny-shchit/osago/policies");
  EXPECT_EQ(host_.requests[0].header("Idempotency-Key"), "5b0c5a0e-0d5c-4a55-9a43-3e1c2f8b7a61");
  auto body = json::parse(host_.requests[0].body);
  EXPECT_EQ(body["applicationId"], "app-17");
  EXPECT_EQ(body["offerId"], "app-17-1");
  EXPECT_EQ(body["contacts"]["phone"], "+79001234567");
  host_.respond(200, R"({"policyId":"pol-3","status":"payment","paymentUrl":"https://pay.partner.ru/pol-3",
                        "draftUrl":"https://partner.ru/pol-3/draft.pdf","paymentExpiresAt":"2025-12-07T18:30:00+03:00"})");
  r = plugin_.issuePoll("pol-3");
  EXPECT_EQ(host_.requests.back().url, "http://sim/severny-shchit/osago/policies/pol-3");
  EXPECT_EQ(r.reply["outcome"], "PAYMENT");
  EXPECT_EQ(r.reply["paymentUrl"], "https://pay.partner.ru/pol-3");
  EXPECT_EQ(r.reply["expiresAtUnixMs"], 1'765'121'400'000LL);
  host_.respond(200, R"({"policyId":"pol-3","status":"issued","policyNumber":"ХХХ 0123456789"})");
  r = plugin_.issuePoll("pol-3");
  EXPECT_EQ(r.reply["outcome"], "ISSUED");
  EXPECT_EQ(r.reply["policyNumber"], "ХХХ 0123456789");
  // A payment link the buyer could not be shown, a deadline that is no time: the partner's error.
  host_.respond(200, R"j({"policyId":"pol-3","status":"payment","paymentUrl":"javascript:alert(1)","paymentExpiresAt":"2025-12-07T18:30:00Z"})j");
  EXPECT_EQ(plugin_.issuePoll("pol-3").status, OSAGO_STATUS_PERMANENT);
  host_.respond(200, R"({"policyId":"pol-3","status":"payment","paymentUrl":"https://pay.partner.ru/x","paymentExpiresAt":"soon"})");
  EXPECT_EQ(plugin_.issuePoll("pol-3").status, OSAGO_STATUS_PERMANENT);
}

}  // namespace
