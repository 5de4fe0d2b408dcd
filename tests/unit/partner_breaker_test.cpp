// The circuit breaker's states, driven by an injected clock.
#include "resilience/partner_breaker.hpp"

#include <gtest/gtest.h>

namespace {

using namespace osago;
using namespace osago::host;
using namespace std::chrono_literals;
using State = CircuitBreaker::State;

const CircuitBreaker::Clock::time_point t0{};

BreakerConfig small() {
  BreakerConfig c;
  c.window_calls = 10;
  c.minimum_calls = 4;
  c.failure_rate = 0.5;
  c.slow_call_rate = 0.75;
  c.slow_call = 1000ms;
  c.open_wait = 5s;
  c.half_open_calls = 2;
  c.half_open_max = 3s;
  return c;
}

void calls(CircuitBreaker& b, int n, bool failed, std::chrono::milliseconds d = 10ms) {
  for (int i = 0; i < n; ++i) {
    auto permit = b.tryAcquire(t0);
    ASSERT_TRUE(permit);
    b.record(permit, failed, d, t0);
  }
}

TEST(CircuitBreaker, StaysClosedBelowTheMinimumNumberOfCalls) {
  CircuitBreaker b(small());
  calls(b, 3, true);
  EXPECT_EQ(b.state(t0), State::kClosed);
}

TEST(CircuitBreaker, OpensAtTheFailureRateAndRefusesCalls) {
  CircuitBreaker b(small());
  calls(b, 2, false);
  calls(b, 2, true);  // 2 of 4 failed = 50 %
  EXPECT_EQ(b.state(t0), State::kOpen);
  EXPECT_FALSE(b.tryAcquire(t0 + 1s));
  EXPECT_EQ(b.describe(t0 + 1s)["openForMs"], 4000);
}

TEST(CircuitBreaker, OpensAtTheSlowCallRate) {
  CircuitBreaker b(small());
  calls(b, 1, false);
  calls(b, 3, false, 1500ms);  // 3 of 4 slow = 75 %
  EXPECT_EQ(b.state(t0), State::kOpen);
}

TEST(CircuitBreaker, OldCallsLeaveTheWindow) {
  CircuitBreaker b(small());
  calls(b, 4, false);
  calls(b, 4, true);   // 4 of 8
  EXPECT_EQ(b.state(t0), State::kOpen);
  CircuitBreaker c(small());
  calls(c, 10, false);
  calls(c, 4, true);   // window of 10: 4 failed, 6 good
  EXPECT_EQ(c.state(t0), State::kClosed);
}

TEST(CircuitBreaker, HalfOpenAfterTheWaitThenClosesOnGoodTrials) {
  CircuitBreaker b(small());
  calls(b, 4, true);
  ASSERT_EQ(b.state(t0), State::kOpen);
  auto t = t0 + 5s;
  EXPECT_EQ(b.state(t), State::kHalfOpen);
  auto first = b.tryAcquire(t);
  auto second = b.tryAcquire(t);
  EXPECT_TRUE(first);
  EXPECT_TRUE(second);
  EXPECT_FALSE(b.tryAcquire(t)) << "only the configured number of trials";
  b.record(first, false, 10ms, t);
  EXPECT_EQ(b.state(t), State::kHalfOpen);
  EXPECT_FALSE(b.tryAcquire(t)) << "a trial that succeeded still counts towards the round";
  b.record(second, false, 10ms, t);
  EXPECT_EQ(b.state(t), State::kClosed);
  EXPECT_TRUE(b.tryAcquire(t));
}

TEST(CircuitBreaker, AFailedTrialOpensAgain) {
  CircuitBreaker b(small());
  calls(b, 4, true);
  auto t = t0 + 5s;
  auto trial = b.tryAcquire(t);
  ASSERT_TRUE(trial);
  b.record(trial, true, 10ms, t);
  EXPECT_EQ(b.state(t), State::kOpen);
  EXPECT_FALSE(b.tryAcquire(t + 4s));
  EXPECT_EQ(b.state(t + 5s), State::kHalfOpen);
}

TEST(CircuitBreaker, AHangingTrialDoesNotKeepItHalfOpenForever) {
  CircuitBreaker b(small());
  calls(b, 4, true);
  auto t = t0 + 5s;
  ASSERT_TRUE(b.tryAcquire(t));
  ASSERT_TRUE(b.tryAcquire(t));  // both trials hang and never report
  EXPECT_EQ(b.state(t + 2s), State::kHalfOpen);
  EXPECT_EQ(b.state(t + 3s), State::kOpen) << "half_open_max passed";
  EXPECT_EQ(b.state(t + 8s), State::kHalfOpen) << "and a new round of trials is allowed later";
  EXPECT_TRUE(b.tryAcquire(t + 8s));
}

// Defect 1 of issue 14: the hang bound ran from the moment the breaker became
// half-open, so a quiet partner's late first trial made the next one reopen it.
TEST(CircuitBreaker, ATrialsHangBoundRunsFromItsOwnStart) {
  CircuitBreaker b(small());
  calls(b, 4, true);
  auto t = t0 + 5s;
  ASSERT_EQ(b.state(t), State::kHalfOpen);  // someone looked (the fleet reporter does, every 2 s)
  auto late = t + 10s;                      // a quiet partner: the first trial comes much later
  auto first = b.tryAcquire(late);
  ASSERT_TRUE(first);
  b.record(first, false, 10ms, late + 10ms);
  auto second = b.tryAcquire(late + 20ms);
  EXPECT_TRUE(second) << "nothing hung: the second trial may start";
  b.record(second, false, 10ms, late + 30ms);
  EXPECT_EQ(b.state(late + 30ms), State::kClosed);
}

TEST(CircuitBreaker, OneHangingTrialReopensEvenWhenAnotherSucceeds) {
  CircuitBreaker b(small());
  calls(b, 4, true);
  auto t = t0 + 5s;
  auto hangs = b.tryAcquire(t);
  auto good = b.tryAcquire(t + 2s);
  ASSERT_TRUE(hangs);
  ASSERT_TRUE(good);
  b.record(good, false, 10ms, t + 2s);
  EXPECT_EQ(b.state(t + 2900ms), State::kHalfOpen);
  EXPECT_EQ(b.state(t + 3s), State::kOpen) << "the first trial passed half_open_max from its start";
  b.record(hangs, false, 3500ms, t + 3500ms);  // it ends at last: from an earlier round, not counted
  EXPECT_EQ(b.state(t + 3500ms), State::kOpen);
}

TEST(CircuitBreaker, ACallAdmittedWhileClosedIsNoTrial) {
  auto c = small();
  c.half_open_calls = 1;
  CircuitBreaker b(c);
  auto old = b.tryAcquire(t0);  // a long call starts while closed
  ASSERT_TRUE(old);
  calls(b, 4, true);
  auto t = t0 + 5s;
  ASSERT_EQ(b.state(t), State::kHalfOpen);
  b.record(old, false, 10ms, t);  // and ends during half-open
  EXPECT_EQ(b.state(t), State::kHalfOpen) << "it says nothing about the partner now";
  auto trial = b.tryAcquire(t);
  ASSERT_TRUE(trial) << "nor did it take the trial's place";
  b.record(trial, false, 10ms, t);
  EXPECT_EQ(b.state(t), State::kClosed);
}

TEST(CircuitBreaker, AReleasedTrialGivesItsPlaceBack) {
  auto c = small();
  c.half_open_calls = 1;
  CircuitBreaker b(c);
  calls(b, 4, true);
  auto t = t0 + 5s;
  auto trial = b.tryAcquire(t);
  ASSERT_TRUE(trial);
  EXPECT_FALSE(b.tryAcquire(t));
  b.release(trial);
  b.release(trial);  // twice is harmless
  EXPECT_TRUE(b.tryAcquire(t));
  EXPECT_FALSE(b.tryAcquire(t));
}

TEST(LatencyWindow, NearestRankPercentiles) {
  LatencyWindow w(100);
  EXPECT_FALSE(w.percentile(0.5));
  for (int i = 1; i <= 100; ++i) w.add(std::chrono::milliseconds(i));
  EXPECT_EQ(*w.percentile(0.5), 50);
  EXPECT_EQ(*w.percentile(0.95), 95);
  EXPECT_EQ(*w.percentile(0.99), 99);
  EXPECT_EQ(*w.percentile(1.0), 100);
  w.add(std::chrono::milliseconds(1000));  // the oldest (1 ms) leaves
  EXPECT_EQ(w.size(), 100u);
  EXPECT_EQ(*w.percentile(1.0), 1000);
}

TEST(RetryBudget, StopsRetriesWhileThePartnerKeepsFailingAndRecoversWithSuccesses) {
  RetryBudget b({10, 0.5});
  EXPECT_TRUE(b.allowsRetry());
  for (int i = 0; i < 4; ++i) b.onFailure();
  EXPECT_TRUE(b.allowsRetry()) << "6 of 10 tokens left";
  b.onFailure();
  EXPECT_FALSE(b.allowsRetry()) << "5 of 10: no more than half";
  b.onSuccess();
  EXPECT_TRUE(b.allowsRetry()) << "5.5 of 10";
  for (int i = 0; i < 100; ++i) b.onSuccess();
  EXPECT_EQ(b.describe()["tokens"], 10.0) << "capped at the bucket size";
  for (int i = 0; i < 100; ++i) b.onFailure();
  EXPECT_EQ(b.describe()["tokens"], 0.0) << "never below zero";
  b.reconfigure({4, 0.5});
  EXPECT_EQ(b.describe()["maxTokens"], 4.0);
}

}  // namespace
