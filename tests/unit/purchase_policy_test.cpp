// What the scheduler does with each answer about a purchase (decidePurchase).
#include "scheduling/purchase_policy.hpp"

#include <gtest/gtest.h>

namespace {

using namespace osago::host;
using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

const Clock::time_point kNow = Clock::time_point(std::chrono::seconds(1'800'000'000));

WorkItem buying(PurchaseStatus status, int attempts = 1, std::string external_id = "pol-1") {
  WorkItem w;
  w.request_id = "r";
  w.company_id = "c";
  w.external_id = std::move(external_id);
  w.attempts = attempts;
  w.deadline = kNow + 30min;
  w.purchase = WorkItem::Purchase{"p-1", status};
  return w;
}

PurchaseOutcome answer(PurchaseOutcome::Kind kind) {
  PurchaseOutcome o;
  o.kind = kind;
  o.external_id = "pol-1";
  return o;
}

PurchaseOutcome failure(FailureCode code, bool retryable) {
  PurchaseOutcome o;
  o.failure = code;
  o.message = "it broke";
  o.retryable = retryable;
  return o;
}

PurchasesConfig config() { return PurchasesConfig{}; }  // 1 s backoff doubling to 10 s, payment polled every 2 s

TEST(PurchasePolicy, PendingBacksOffFromTheFirstDelayToTheCap) {
  auto first = decidePurchase(buying(PurchaseStatus::kCreated, 0, ""), answer(PurchaseOutcome::Kind::Pending), kNow, config());
  EXPECT_EQ(first.status, PurchaseStatus::kPending);
  EXPECT_EQ(first.external_id, "pol-1");
  EXPECT_EQ(first.attempts, 1);
  EXPECT_EQ(first.next_poll_at, kNow + 1s);
  auto third = decidePurchase(buying(PurchaseStatus::kPending, 2), answer(PurchaseOutcome::Kind::Pending), kNow, config());
  EXPECT_EQ(third.next_poll_at, kNow + 4s);
  auto late = decidePurchase(buying(PurchaseStatus::kPending, 20), answer(PurchaseOutcome::Kind::Pending), kNow, config());
  EXPECT_EQ(late.next_poll_at, kNow + 10s);
  // The partner's Retry-After is never undercut.
  auto told = answer(PurchaseOutcome::Kind::Pending);
  told.retry_after = 7s;
  EXPECT_EQ(decidePurchase(buying(PurchaseStatus::kPending), told, kNow, config()).next_poll_at, kNow + 7s);
}

TEST(PurchasePolicy, ThePaymentPageIsKeptAndPolledAtItsOwnPace) {
  auto o = answer(PurchaseOutcome::Kind::Payment);
  o.payment_url = "https://pay.partner.ru/pol-1";
  o.draft_url = "https://partner.ru/pol-1/draft.pdf";
  o.expires_at = Clock::time_point(std::chrono::milliseconds(1'765'121'400'000));
  auto u = decidePurchase(buying(PurchaseStatus::kPending, 5), o, kNow, config());
  EXPECT_EQ(u.status, PurchaseStatus::kPayment);
  EXPECT_EQ(u.payment["url"], "https://pay.partner.ru/pol-1");
  EXPECT_EQ(u.payment["draftUrl"], "https://partner.ru/pol-1/draft.pdf");
  EXPECT_EQ(u.payment["expiresAt"], "2025-12-07T15:30:00.000Z");
  EXPECT_EQ(u.next_poll_at, kNow + 2s);
  EXPECT_FALSE(u.deadline);
}

TEST(PurchasePolicy, PaidMovesTheDeadlineOutOnceAndIssuedEndsIt) {
  auto paid = decidePurchase(buying(PurchaseStatus::kPayment), answer(PurchaseOutcome::Kind::Paid), kNow, config());
  EXPECT_EQ(paid.status, PurchaseStatus::kPaid);
  ASSERT_TRUE(paid.deadline);
  EXPECT_EQ(*paid.deadline, kNow + 24h);
  auto still = decidePurchase(buying(PurchaseStatus::kPaid), answer(PurchaseOutcome::Kind::Paid), kNow, config());
  EXPECT_FALSE(still.deadline) << "only the change to PAID moves it";

  auto o = answer(PurchaseOutcome::Kind::Issued);
  o.policy_number = "ХХХ 0123456789";
  o.policy_url = "https://partner.ru/pol-1/policy.pdf";
  auto issued = decidePurchase(buying(PurchaseStatus::kPaid), o, kNow, config());
  EXPECT_EQ(issued.status, PurchaseStatus::kIssued);
  EXPECT_EQ(issued.policy, (nlohmann::json{{"number", "ХХХ 0123456789"}, {"url", "https://partner.ru/pol-1/policy.pdf"}}));
  EXPECT_TRUE(issued.error.is_null());
}

TEST(PurchasePolicy, ADeclineKeepsTheInsurersReason) {
  auto o = answer(PurchaseOutcome::Kind::Declined);
  o.decline_reason = "OFFER_EXPIRED";
  o.message = "the price is no longer valid";
  auto u = decidePurchase(buying(PurchaseStatus::kPending), o, kNow, config());
  EXPECT_EQ(u.status, PurchaseStatus::kDeclined);
  EXPECT_EQ(u.error["code"], "DECLINED");
  EXPECT_EQ(u.error["reason"], "OFFER_EXPIRED");
  EXPECT_EQ(u.error["message"], "the price is no longer valid");
}

TEST(PurchasePolicy, FailuresAreRetriedWhenTheyMayPassAndEndItOtherwise) {
  // Retryable, or never sent: asked again (issue again: the purchaseId keeps it one purchase).
  auto timeout = decidePurchase(buying(PurchaseStatus::kCreated, 0, ""), failure(FailureCode::kPartnerTimeout, true), kNow, config());
  EXPECT_EQ(timeout.status, PurchaseStatus::kCreated);
  EXPECT_EQ(timeout.next_poll_at, kNow + 1s);
  EXPECT_TRUE(timeout.error.is_null());
  auto open = decidePurchase(buying(PurchaseStatus::kPending), failure(FailureCode::kCircuitOpen, true), kNow, config());
  EXPECT_EQ(open.status, PurchaseStatus::kPending);
  // A plugin that cannot sell (replaced by an older one) never will: nothing was sent, and nothing is tried again.
  auto old_plugin = decidePurchase(buying(PurchaseStatus::kCreated, 0, ""), failure(FailureCode::kNotPurchasable, false), kNow,
                                   config());
  EXPECT_EQ(old_plugin.status, PurchaseStatus::kFailed);
  EXPECT_EQ(old_plugin.error["code"], "NOT_PURCHASABLE");
  // Anything else before payment ends the purchase with its code.
  auto refused = decidePurchase(buying(PurchaseStatus::kCreated, 0, ""), failure(FailureCode::kPartnerRejectedInput, false), kNow,
                                config());
  EXPECT_EQ(refused.status, PurchaseStatus::kFailed);
  EXPECT_EQ(refused.error["code"], "PARTNER_REJECTED_INPUT");
  // A paid purchase is never given up on for an error: the buyer paid.
  auto paid = decidePurchase(buying(PurchaseStatus::kPaid), failure(FailureCode::kPartnerError, false), kNow, config());
  EXPECT_EQ(paid.status, PurchaseStatus::kPaid);
  // … unless its calls are quarantined for killing the plugin's worker.
  auto poison = failure(FailureCode::kPluginCrashed, false);
  poison.killed_worker = true;
  EXPECT_EQ(decidePurchase(buying(PurchaseStatus::kPaid), poison, kNow, config()).status, PurchaseStatus::kFailed);
}

TEST(PurchasePolicy, TheDeadlineEndsAnythingButAnAnswerThatEndsIt) {
  auto item = buying(PurchaseStatus::kPayment);
  auto past = item.deadline + 1s;
  auto u = decidePurchase(item, answer(PurchaseOutcome::Kind::Payment), past, config());
  EXPECT_EQ(u.status, PurchaseStatus::kFailed);
  EXPECT_EQ(u.error["code"], "DEADLINE_EXCEEDED");
  auto paid = decidePurchase(buying(PurchaseStatus::kPaid), answer(PurchaseOutcome::Kind::Paid), past + 1h, config());
  EXPECT_EQ(paid.status, PurchaseStatus::kFailed);
  EXPECT_NE(paid.error["message"].get<std::string>().find("paid"), std::string::npos) << paid.error.dump();
  auto o = answer(PurchaseOutcome::Kind::Issued);
  o.policy_number = "ХХХ 0123456789";
  EXPECT_EQ(decidePurchase(item, o, past, config()).status, PurchaseStatus::kIssued) << "a policy is a policy, however late";
  // A next call is never placed after the deadline.
  auto close = decidePurchase(item, answer(PurchaseOutcome::Kind::Pending), item.deadline - 500ms, config());
  EXPECT_EQ(close.next_poll_at, item.deadline);
}

}  // namespace
