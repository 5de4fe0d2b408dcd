// What the scheduler does with each kind of partner answer.
#include "scheduling/poll_policy.hpp"

#include <gtest/gtest.h>

namespace {

using namespace osago::host;
using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

const Clock::time_point kNow = Clock::time_point(std::chrono::seconds(1'800'000'000));

WorkItem polling(int attempts = 1) {
  WorkItem w;
  w.request_id = "r";
  w.company_id = "c";
  w.external_id = "ext-1";
  w.attempts = attempts;
  w.deadline = kNow + 60s;
  return w;
}

PartnerOutcome pending() {
  PartnerOutcome o;
  o.kind = PartnerOutcome::Kind::Pending;
  o.external_id = "ext-1";
  return o;
}

TEST(PollPolicy, ExponentialWithEqualJitterAndCap) {
  PollPolicy p(500ms, 5000ms, {}, 42);
  for (int i = 0; i < 50; ++i) {
    auto d1 = p.delay({1, std::nullopt, std::nullopt, nullptr});
    EXPECT_GE(d1, 250ms);
    EXPECT_LE(d1, 500ms);
    auto d3 = p.delay({3, std::nullopt, std::nullopt, nullptr});
    EXPECT_GE(d3, 1000ms);
    EXPECT_LE(d3, 2000ms);
    auto d10 = p.delay({10, std::nullopt, std::nullopt, nullptr});
    EXPECT_GE(d10, 2500ms);
    EXPECT_LE(d10, 5000ms);
  }
}

TEST(PollPolicy, RetryAfterWinsButIsClamped) {
  PollPolicy p(500ms, 5000ms, {}, 1);
  EXPECT_EQ(p.delay({1, 1200ms, std::nullopt, nullptr}), 1200ms);
  EXPECT_EQ(p.delay({1, 60000ms, std::nullopt, nullptr}), 5000ms);
  EXPECT_EQ(p.delay({1, 0ms, std::nullopt, nullptr}), 100ms);
}

TEST(DecideUpdate, PendingKeepsPollingWithinTheDeadline) {
  PollPolicy p(500ms, 5000ms, {}, 1);
  auto item = polling();
  auto u = decideUpdate(item, pending(), kNow, p);
  EXPECT_EQ(u.status, CompanyStatus::kInProgress);
  EXPECT_EQ(u.external_id, "ext-1");
  EXPECT_EQ(u.attempts, 2);
  EXPECT_GT(u.next_poll_at, kNow);
  EXPECT_LE(u.next_poll_at, item.deadline);

  auto late = decideUpdate(item, pending(), item.deadline - 10ms, p);
  EXPECT_EQ(late.status, CompanyStatus::kTimeout) << "a poll after the deadline is not planned: TIMEOUT now";
  EXPECT_EQ(late.error["code"], "DEADLINE_EXCEEDED");
  EXPECT_NE(late.error["message"].get<std::string>().find("after the deadline"), std::string::npos);
}

TEST(DecideUpdate, ARetryAfterBeyondTheDeadlineEndsTheWaitNow) {
  PollPolicy p(500ms, 60000ms, {}, 1);
  auto item = polling();
  auto o = pending();
  o.retry_after = 30s;
  EXPECT_EQ(decideUpdate(item, o, item.deadline - 40s, p).status, CompanyStatus::kInProgress);
  EXPECT_EQ(decideUpdate(item, o, item.deadline - 20s, p).status, CompanyStatus::kTimeout);
}

TEST(DecideUpdate, NoPollThatThePartnersP95LatencyWouldCarryPastTheDeadline) {
  PollPolicy p(1000ms, 1000ms, {}, 1);  // next poll between 500 and 1000 ms from now
  auto item = polling();
  PartnerOutlook slow;
  slow.p95_latency = 4000ms;
  EXPECT_EQ(decideUpdate(item, pending(), item.deadline - 10s, p, slow).status, CompanyStatus::kInProgress);
  auto u = decideUpdate(item, pending(), item.deadline - 3s, p, slow);
  EXPECT_EQ(u.status, CompanyStatus::kTimeout);
  EXPECT_NE(u.error["message"].get<std::string>().find("p95"), std::string::npos);
  EXPECT_EQ(decideUpdate(item, pending(), item.deadline - 3s, p).status, CompanyStatus::kInProgress)
      << "without a settled p95 the poll is planned";
  EXPECT_FALSE(callFitsBeforeDeadline(item.deadline - 3s, item.deadline, slow));
  EXPECT_TRUE(callFitsBeforeDeadline(item.deadline - 5s, item.deadline, slow));
}

TEST(DecideUpdate, ASpentRetryBudgetStopsRetriesButNotPolling) {
  PollPolicy p(500ms, 5000ms, {}, 1);
  PartnerOutlook spent;
  spent.retries_allowed = false;
  auto u = decideUpdate(polling(), PartnerOutcome::failed(FailureCode::kPartnerUnavailable, "503", true), kNow, p, spent);
  EXPECT_EQ(u.status, CompanyStatus::kFailed);
  EXPECT_EQ(u.error["code"], "PARTNER_UNAVAILABLE");
  EXPECT_NE(u.error["message"].get<std::string>().find("retry budget"), std::string::npos);
  EXPECT_EQ(decideUpdate(polling(), pending(), kNow, p, spent).status, CompanyStatus::kInProgress)
      << "a pending answer is not a failure: polling goes on";
}

TEST(DecideUpdate, OfferCompletes) {
  PollPolicy p(500ms, 5000ms, {}, 1);
  PartnerOutcome o;
  o.kind = PartnerOutcome::Kind::Offer;
  o.offer = {{"premium", {{"amount", "11394.00"}, {"currency", "RUB"}}}};
  auto u = decideUpdate(polling(), o, kNow, p);
  EXPECT_EQ(u.status, CompanyStatus::kCompleted);
  EXPECT_EQ(u.offer["premium"]["amount"], "11394.00");
  EXPECT_TRUE(u.error.is_null());
}

TEST(DecideUpdate, DeclineFailsWithTheInsurersReason) {
  PollPolicy p(500ms, 5000ms, {}, 1);
  PartnerOutcome o;
  o.kind = PartnerOutcome::Kind::Declined;
  o.decline_reason = "DRIVER_TOO_YOUNG";
  o.message = "drivers under 23 are not insured";
  auto u = decideUpdate(polling(), o, kNow, p);
  EXPECT_EQ(u.status, CompanyStatus::kFailed);
  EXPECT_EQ(u.error["code"], "DECLINED");
  EXPECT_EQ(u.error["reason"], "DRIVER_TOO_YOUNG");
}

TEST(DecideUpdate, RetryableFailureOfAPollIsRetried) {
  PollPolicy p(500ms, 5000ms, {}, 1);
  auto u = decideUpdate(polling(), PartnerOutcome::failed(FailureCode::kPartnerUnavailable, "503", true), kNow, p);
  EXPECT_EQ(u.status, CompanyStatus::kInProgress);
  EXPECT_GT(u.next_poll_at, kNow);
}

TEST(DecideUpdate, FailedSubmitIsNotRetried) {
  PollPolicy p(500ms, 5000ms, {}, 1);
  auto item = polling(0);
  item.external_id.clear();
  auto u = decideUpdate(item, PartnerOutcome::failed(FailureCode::kPartnerTimeout, "no answer", true), kNow, p);
  EXPECT_EQ(u.status, CompanyStatus::kFailed);
  EXPECT_EQ(u.error["code"], "PARTNER_TIMEOUT");
}

TEST(DecideUpdate, ASubmitThatNeverWentOutIsTriedAgain) {
  PollPolicy p(500ms, 5000ms, {}, 1);
  auto item = polling(0);
  item.external_id.clear();
  auto u = decideUpdate(item, PartnerOutcome::notCalled(FailureCode::kBulkheadFull, "full", true), kNow, p);
  EXPECT_EQ(u.status, CompanyStatus::kInProgress);
  EXPECT_TRUE(u.external_id.empty());
  auto open = decideUpdate(item, PartnerOutcome::notCalled(FailureCode::kCircuitOpen, "open", false), kNow, p);
  EXPECT_EQ(open.status, CompanyStatus::kFailed) << "new work for an open breaker fails fast";
  EXPECT_EQ(open.error["code"], "CIRCUIT_OPEN");
}

TEST(DecideUpdate, PermanentFailureFails) {
  PollPolicy p(500ms, 5000ms, {}, 1);
  auto u = decideUpdate(polling(), PartnerOutcome::failed(FailureCode::kPartnerError, "bad body"), kNow, p);
  EXPECT_EQ(u.status, CompanyStatus::kFailed);
  EXPECT_EQ(u.error["message"], "bad body");
}

TEST(DecideUpdate, StillPendingAtTheDeadlineTimesOut) {
  PollPolicy p(500ms, 5000ms, {}, 1);
  auto item = polling();
  auto u = decideUpdate(item, pending(), item.deadline, p);
  EXPECT_EQ(u.status, CompanyStatus::kTimeout);
  EXPECT_EQ(u.error["code"], "DEADLINE_EXCEEDED");
  auto d = decideUpdate(item, PartnerOutcome::failed(FailureCode::kDeadlineExceeded, "x"), item.deadline + 1s, p);
  EXPECT_EQ(d.status, CompanyStatus::kTimeout);
}

TEST(ParseOutcome, AcceptsTheDocumentedShapes) {
  auto p = parseOutcome(R"({"v":1,"outcome":"PENDING","externalId":"a","retryAfterMs":1500})");
  EXPECT_EQ(p.kind, PartnerOutcome::Kind::Pending);
  EXPECT_EQ(p.external_id, "a");
  ASSERT_TRUE(p.retry_after);
  EXPECT_EQ(*p.retry_after, 1500ms);
  auto o = parseOutcome(R"({"v":1,"outcome":"OFFER","externalId":"a","offer":{"premium":{"amount":"1.00","currency":"RUB"}}})");
  EXPECT_EQ(o.kind, PartnerOutcome::Kind::Offer);
  auto d = parseOutcome(R"({"v":1,"outcome":"DECLINED","reason":"REGION","message":"m"})");
  EXPECT_EQ(d.kind, PartnerOutcome::Kind::Declined);
  EXPECT_EQ(d.decline_reason, "REGION");
}

TEST(ParseOutcome, MalformedOutcomesArePluginErrors) {
  for (const char* bad : {"", "[]", R"({"outcome":"MAYBE"})", R"({"outcome":"OFFER","offer":{"premium":{"amount":12}}})"}) {
    auto o = parseOutcome(bad);
    EXPECT_EQ(o.kind, PartnerOutcome::Kind::Failed) << bad;
    EXPECT_EQ(o.failure, FailureCode::kPluginError) << bad;
  }
}

}  // namespace
