// The host's reading of a plugin's purchase outcome (ABI 1.2): what a plugin
// writes through the SDK is taken, anything else — a wrong type, a value out of
// its bounds, a link the buyer should not be shown — is the plugin's error,
// named, and never an exception.
#include "plugins/purchase_outcome.hpp"

#include <osago/plugin_sdk/plugin.hpp>

#include <gtest/gtest.h>

namespace {

using osago::host::FailureCode;
using osago::host::PurchaseOutcome;
using osago::host::parsePurchaseOutcome;
namespace sdk = osago::sdk;
using nlohmann::json;

PurchaseOutcome parse(const json& j) { return parsePurchaseOutcome(j.dump()); }

TEST(PurchaseOutcome, WhatTheSdkWritesIsRead) {
  auto pending = parsePurchaseOutcome(sdk::PurchaseOutcome::pending("pol-3", 1500).json().dump());
  EXPECT_EQ(pending.kind, PurchaseOutcome::Kind::Pending);
  EXPECT_EQ(pending.external_id, "pol-3");
  EXPECT_EQ(pending.retry_after, std::chrono::milliseconds(1500));

  auto payment = parsePurchaseOutcome(sdk::PurchaseOutcome::payment("pol-3", "https://pay.partner.ru/pol-3?t=1",
                                                                    1'765'121'400'000, "https://partner.ru/d.pdf")
                                          .json()
                                          .dump());
  ASSERT_EQ(payment.kind, PurchaseOutcome::Kind::Payment) << payment.message;
  EXPECT_EQ(payment.payment_url, "https://pay.partner.ru/pol-3?t=1");
  EXPECT_EQ(payment.draft_url, "https://partner.ru/d.pdf");
  ASSERT_TRUE(payment.expires_at);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(payment.expires_at->time_since_epoch()).count(),
            1'765'121'400'000);

  EXPECT_EQ(parsePurchaseOutcome(sdk::PurchaseOutcome::paid("pol-3").json().dump()).kind, PurchaseOutcome::Kind::Paid);
  auto issued = parsePurchaseOutcome(sdk::PurchaseOutcome::issued("pol-3", "ХХХ 0123456789", "http://partner.ru/p").json().dump());
  ASSERT_EQ(issued.kind, PurchaseOutcome::Kind::Issued) << issued.message;
  EXPECT_EQ(issued.policy_number, "ХХХ 0123456789");
  EXPECT_EQ(issued.policy_url, "http://partner.ru/p");

  auto declined = parsePurchaseOutcome(sdk::PurchaseOutcome::declined("", "цена устарела").json().dump());
  EXPECT_EQ(declined.kind, PurchaseOutcome::Kind::Declined);
  EXPECT_EQ(declined.decline_reason, "DECLINED") << "an empty reason gets the generic one";
  EXPECT_EQ(declined.message, "цена устарела");
}

TEST(PurchaseOutcome, AnythingElseIsThePluginsErrorNamingTheField) {
  const json payment = {{"v", 1}, {"outcome", "PAYMENT"}, {"externalId", "p"}, {"paymentUrl", "https://pay.ru/p"},
                        {"expiresAtUnixMs", 1'765'121'400'000}};
  auto with = [&](const char* field, const json& value) {
    json j = payment;
    if (value.is_null()) j.erase(field);
    else j[field] = value;
    return parse(j);
  };
  struct Case {
    const char* field;
    json value;
    const char* says;
  };
  const std::vector<Case> cases = {
      {"v", 2, "'v'"},
      {"outcome", 7, "'outcome'"},
      {"outcome", "OFFER", "unknown outcome"},
      {"outcome", nullptr, "'outcome' is missing"},
      {"externalId", nullptr, "'externalId' is missing"},
      {"externalId", "", "'externalId' is empty"},
      {"externalId", std::string(OSAGO_OUTCOME_MAX_EXTERNAL_ID + 1, 'x'), "'externalId' is longer"},
      {"externalId", json::array({1}), "'externalId' must be a string"},
      {"paymentUrl", nullptr, "'paymentUrl' is missing"},
      {"paymentUrl", "javascript:alert(1)", "'paymentUrl' is not"},
      {"paymentUrl", "https://", "'paymentUrl' is not"},
      {"paymentUrl", "https:///etc/passwd", "'paymentUrl' is not"},
      {"paymentUrl", "https://pay.ru/a b", "'paymentUrl' is not"},
      {"paymentUrl", "https://pay.ru/\"onmouseover=", "'paymentUrl' is not"},
      {"paymentUrl", "https://pay.ru/" + std::string(OSAGO_PURCHASE_MAX_URL, 'a'), "'paymentUrl' is longer"},
      {"draftUrl", "ftp://partner.ru/d.pdf", "'draftUrl' is not"},
      {"expiresAtUnixMs", nullptr, "'expiresAtUnixMs' is missing"},
      {"expiresAtUnixMs", "soon", "'expiresAtUnixMs' must be an integer"},
      {"expiresAtUnixMs", 1.5e12, "'expiresAtUnixMs' must be an integer"},
      {"expiresAtUnixMs", 9'223'372'036'854'775'807LL, "between 2000 and 2100"},
      {"expiresAtUnixMs", -1, "between 2000 and 2100"},
      {"retryAfterMs", "1s", "'retryAfterMs' must be an integer"},
  };
  for (const auto& c : cases) {
    auto out = with(c.field, c.value);
    EXPECT_EQ(out.kind, PurchaseOutcome::Kind::Failed) << c.field << " = " << c.value.dump();
    EXPECT_EQ(out.failure, FailureCode::kPluginError);
    EXPECT_NE(out.message.find(c.says), std::string::npos) << c.field << ": " << out.message;
  }
  const json issued = {{"outcome", "ISSUED"}, {"externalId", "p"}, {"policyNumber", "ХХХ 1"}};
  auto issued_with = [&](const char* field, const json& value) {
    json j = issued;
    if (value.is_null()) j.erase(field);
    else j[field] = value;
    return parse(j);
  };
  EXPECT_NE(issued_with("policyNumber", nullptr).message.find("'policyNumber' is missing"), std::string::npos);
  EXPECT_NE(issued_with("policyNumber", std::string(65, '7')).message.find("longer than 64"), std::string::npos);
  EXPECT_NE(issued_with("policyNumber", "ХХХ\n1").message.find("control character"), std::string::npos);
  EXPECT_NE(issued_with("policyUrl", "data:text/html,x").message.find("'policyUrl' is not"), std::string::npos);
  EXPECT_NE(parse(json{{"outcome", "DECLINED"}, {"reason", std::string(200, 'r')}}).message.find("'reason' is longer"),
            std::string::npos);
  for (const std::string& bad : std::vector<std::string>{"", "null", "[]", "\"PAID\"", std::string(100, '[') + std::string(100, ']'), "{\"outcome\":\"PAID\"",
                          std::string("{\"outcome\":\"PAID\",\"externalId\":\"\xff\"}")})
    EXPECT_EQ(parsePurchaseOutcome(bad).kind, PurchaseOutcome::Kind::Failed) << bad;
}

TEST(PurchaseOutcome, ShowableLinks) {
  EXPECT_TRUE(sdk::isShowableLink("https://pay.partner.ru/p/1?x=1&y=%20"));
  EXPECT_TRUE(sdk::isShowableLink("http://127.0.0.1:8093/pay/1"));
  for (const char* bad : {"", "https://", "http:/x", "HTTPS://x", "//x", "https://x/'", "https://x/`", "https://x/\\",
                          "https://x/\x7f", "mailto:a@b"})
    EXPECT_FALSE(sdk::isShowableLink(bad)) << bad;
}

TEST(PurchaseOutcome, ARejectionQuotingTheOutcomeCutsNoCharacterInTwo) {
  // Found by fuzz_plugin_outcome: an unknown outcome of 63 ASCII bytes and then Cyrillic was quoted
  // cut in the middle of a letter, and the message could not be written as JSON.
  std::string outcome = std::string(63, '`') + "ЖЖЖЖ";
  auto out = parsePurchaseOutcome(nlohmann::json{{"v", 1}, {"outcome", outcome}}.dump());
  ASSERT_EQ(out.kind, PurchaseOutcome::Kind::Failed);
  auto write = [&] { return nlohmann::json{{"m", out.message}}.dump(); };
  EXPECT_NO_THROW(write()) << out.message;
  EXPECT_NE(out.message.find(std::string(63, '`') + "'"), std::string::npos) << out.message;
}

}  // namespace
