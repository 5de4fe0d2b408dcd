// The SDK's side of ABI 1.2: a plugin class with issue/issuePoll gets the
// purchase entries in its table, one without them gets NULL there (its offers
// cannot be bought), and PurchaseOutcome holds the partner's answers to the
// purchase outcome's bounds. Driven through the real table and the fake host.
#include <osago/plugin_sdk/partner_http.hpp>
#include <osago/plugin_testing/fake_host.hpp>

#include <gtest/gtest.h>

namespace {

using nlohmann::json;
namespace sdk = osago::sdk;
using osago::testing::FakeHost;
using osago::testing::PluginUnderTest;

class QuotesOnly {
 public:
  QuotesOnly(sdk::Host, const json&) {}
  sdk::Outcome submit(const sdk::Call&, const json&) { return sdk::Outcome::pending("a-1"); }
  sdk::Outcome poll(const sdk::Call&, const std::string& id) { return sdk::Outcome::pending(id); }
};

/// A partner that answers a purchase with {"id", "status", …} on POST /policies
/// and GET /policies/{id}.
class Seller {
 public:
  Seller(sdk::Host host, const json&) : host_(host) {}
  sdk::Outcome submit(const sdk::Call&, const json&) { return sdk::Outcome::pending("a-1"); }
  sdk::Outcome poll(const sdk::Call&, const std::string& id) { return sdk::Outcome::pending(id); }
  sdk::PurchaseOutcome issue(const sdk::Call& call, const json& purchase) {
    sdk::HttpRequest request;
    request.method = "POST";
    request.url = "http://partner/policies";
    request.body = json{{"application", purchase.at("applicationId")}, {"email", purchase.at("buyer").at("email")}}.dump();
    return state(json::parse(host_.http(call, request).body));
  }
  sdk::PurchaseOutcome issuePoll(const sdk::Call& call, const std::string& id) {
    sdk::HttpRequest request;
    request.url = "http://partner/policies/" + id;
    return state(json::parse(host_.http(call, request).body));
  }

 private:
  static sdk::PurchaseOutcome state(const json& b) {
    std::string status = b.at("status");
    if (status == "pending") return sdk::PurchaseOutcome::pending(b.at("id"), 2000);
    if (status == "payment")
      return sdk::PurchaseOutcome::payment(b.at("id"), b.at("paymentUrl"), b.at("expiresAtMs"), b.value("draftUrl", ""));
    if (status == "paid") return sdk::PurchaseOutcome::paid(b.at("id"));
    if (status == "issued") return sdk::PurchaseOutcome::issued(b.at("id"), b.at("policyNumber"), b.value("policyUrl", ""));
    return sdk::PurchaseOutcome::declined(b.value("reason", "DECLINED"), b.value("message", ""));
  }
  sdk::Host host_;
};

const json kPurchase = {{"v", 1},
                        {"applicationId", "a-1"},
                        {"offer", {{"premium", {{"amount", "11394.00"}, {"currency", "RUB"}}}}},
                        {"quote", json::object()},
                        {"buyer", {{"email", "ivanov@example.ru"}, {"phone", "+79001234567"}}}};

TEST(PluginSdkPurchase, AClassWithoutIssueHasNoPurchaseEntries) {
  const osago_plugin_api* api = sdk::detail::pluginTable<QuotesOnly>("quotes-only", "Quotes only", "1.0.0");
  EXPECT_EQ(api->struct_size, sizeof(osago_plugin_api));
  EXPECT_EQ(api->abi_minor, 2);
  EXPECT_EQ(api->issue, nullptr);
  EXPECT_EQ(api->issue_poll, nullptr);
  FakeHost host;
  PluginUnderTest plugin(api, host, json::object());
  EXPECT_FALSE(plugin.purchasable());
  EXPECT_THROW(plugin.issue(kPurchase), std::logic_error);
}

TEST(PluginSdkPurchase, AnOlderTableIsNotPurchasableWhateverFollowsIt) {
  osago_plugin_api old = *sdk::detail::pluginTable<Seller>("seller", "Seller", "1.0.0");
  old.struct_size = offsetof(osago_plugin_api, issue);  // as a 1.1 plugin's table ends
  EXPECT_FALSE(FakeHost::purchasable(&old));
}

TEST(PluginSdkPurchase, APurchaseGoesFromPendingThroughPaymentToTheIssuedPolicy) {
  const osago_plugin_api* api = sdk::detail::pluginTable<Seller>("seller", "Seller", "1.0.0");
  FakeHost host;
  PluginUnderTest plugin(api, host, json::object());
  ASSERT_TRUE(plugin.purchasable());

  host.respond(202, R"({"id":"p-7","status":"pending"})");
  auto started = plugin.issue(kPurchase);
  ASSERT_EQ(started.status, OSAGO_STATUS_OK) << started.reply_text;
  EXPECT_EQ(started.reply, (json{{"v", 1}, {"outcome", "PENDING"}, {"externalId", "p-7"}, {"retryAfterMs", 2000}}));
  ASSERT_EQ(host.requests.size(), 1u);
  EXPECT_EQ(json::parse(host.requests[0].body)["email"], "ivanov@example.ru") << "the buyer's data reach the partner";

  host.respond(200, R"({"id":"p-7","status":"payment","paymentUrl":"https://pay.partner.ru/p-7?t=x",
                       "draftUrl":"https://partner.ru/p-7/draft.pdf","expiresAtMs":1800000900000})");
  auto payment = plugin.issuePoll("p-7");
  ASSERT_EQ(payment.status, OSAGO_STATUS_OK) << payment.reply_text;
  EXPECT_EQ(payment.reply["outcome"], "PAYMENT");
  EXPECT_EQ(payment.reply["paymentUrl"], "https://pay.partner.ru/p-7?t=x");
  EXPECT_EQ(payment.reply["draftUrl"], "https://partner.ru/p-7/draft.pdf");
  EXPECT_EQ(payment.reply["expiresAtUnixMs"], 1800000900000);
  EXPECT_EQ(host.requests.back().url, "http://partner/policies/p-7");

  host.respond(200, R"({"id":"p-7","status":"paid"})");
  EXPECT_EQ(plugin.issuePoll("p-7").reply, (json{{"v", 1}, {"outcome", "PAID"}, {"externalId", "p-7"}}));

  host.respond(200, R"({"id":"p-7","status":"issued","policyNumber":"ХХХ 0123456789"})");
  auto issued = plugin.issuePoll("p-7");
  EXPECT_EQ(issued.reply, (json{{"v", 1}, {"outcome", "ISSUED"}, {"externalId", "p-7"}, {"policyNumber", "ХХХ 0123456789"}}));
}

TEST(PluginSdkPurchase, WhatTheHostCouldNotShowIsThePartnersError) {
  const osago_plugin_api* api = sdk::detail::pluginTable<Seller>("seller", "Seller", "1.0.0");
  FakeHost host;
  PluginUnderTest plugin(api, host, json::object());
  auto answer = [&](const json& body) {
    host.respond(200, body.dump());
    return plugin.issuePoll("p-7");
  };
  for (const std::string& url : std::vector<std::string>{"javascript:alert(1)", "https://pay.ru/a b", "https://pay.ru/\"><script>", "//pay.ru/x",
                                "https://pay.ru/" + std::string(OSAGO_PURCHASE_MAX_URL, 'a')}) {
    auto r = answer({{"id", "p-7"}, {"status", "payment"}, {"paymentUrl", url}, {"expiresAtMs", 1}});
    EXPECT_EQ(r.status, OSAGO_STATUS_PERMANENT) << url;
    EXPECT_NE(r.reply.value("message", "").find("payment link"), std::string::npos) << r.reply_text;
  }
  auto long_number = answer({{"id", "p-7"}, {"status", "issued"}, {"policyNumber", std::string(65, '7')}});
  EXPECT_EQ(long_number.status, OSAGO_STATUS_PERMANENT);
  EXPECT_NE(long_number.reply.value("message", "").find("policy number"), std::string::npos);
  EXPECT_EQ(answer({{"id", "p-7"}, {"status", "issued"}, {"policyNumber", "ХХХ\n1"}}).status, OSAGO_STATUS_PERMANENT)
      << "a control character in the policy number";
  auto late = answer({{"id", "p-7"}, {"status", "payment"}, {"paymentUrl", "https://pay.ru/p"}, {"expiresAtMs", 1}});
  EXPECT_EQ(late.status, OSAGO_STATUS_PERMANENT) << "a payment deadline in 1970";
  EXPECT_NE(late.reply.value("message", "").find("between 2000 and 2100"), std::string::npos) << late.reply_text;
  EXPECT_EQ(answer({{"id", "p-7"}, {"status", "payment"}, {"paymentUrl", "https://pay.ru/it's"}, {"expiresAtMs", 1}}).status,
            OSAGO_STATUS_PERMANENT)
      << "the SDK refuses what the host would refuse (a quote in a link)";
  EXPECT_EQ(answer({{"id", ""}, {"status", "paid"}}).status, OSAGO_STATUS_PERMANENT) << "an empty purchase id";
  EXPECT_EQ(answer({{"id", std::string(OSAGO_OUTCOME_MAX_EXTERNAL_ID + 1, 'p')}, {"status", "paid"}}).status,
            OSAGO_STATUS_PERMANENT);

  // A decline's words are cut, not refused: the partner's answer still counts.
  auto declined = answer({{"status", "declined"}, {"reason", std::string(300, 'R')}, {"message", std::string(5000, 'm')}});
  ASSERT_EQ(declined.status, OSAGO_STATUS_OK);
  EXPECT_EQ(declined.reply["reason"].get<std::string>().size(), static_cast<std::size_t>(OSAGO_OUTCOME_MAX_DECLINE_REASON));
  EXPECT_EQ(declined.reply["message"].get<std::string>().size(), static_cast<std::size_t>(OSAGO_OUTCOME_MAX_DECLINE_MESSAGE));

  // A partner's garbage never crosses the ABI as an exception.
  host.respond(200, "<html>busy</html>");
  auto garbage = plugin.issuePoll("p-7");
  EXPECT_EQ(garbage.status, OSAGO_STATUS_PERMANENT);
  EXPECT_NE(garbage.reply.value("message", "").find("malformed JSON"), std::string::npos);
}

TEST(PluginSdkPurchase, PartnersTimesAreReadInIso8601OrRefused) {
  using osago::sdk::unixMsFromIso;
  EXPECT_EQ(unixMsFromIso("2025-12-07T15:30:00Z"), 1'765'121'400'000LL);
  EXPECT_EQ(unixMsFromIso("2025-12-07T15:30:00.250Z"), 1'765'121'400'250LL);
  EXPECT_EQ(unixMsFromIso("2025-12-07T18:30:00+03:00"), 1'765'121'400'000LL);
  EXPECT_EQ(unixMsFromIso("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(unixMsFromIso("2024-02-29T00:00:00Z"), 1'709'164'800'000LL);
  for (const char* bad : {"", "2025-12-07", "2025-12-07T15:30:00", "2025-13-07T15:30:00Z", "2025-12-07T25:30:00Z",
                          "2025-12-07T15:30:00.Z", "2025-12-07T15:30:00+3:00", "2025-12-07T15:30:00Zjunk", "yesterday"})
    EXPECT_FALSE(unixMsFromIso(bad)) << bad;
}

}  // namespace
