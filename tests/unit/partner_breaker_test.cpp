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
    ASSERT_TRUE(b.tryAcquire(t0));
    b.record(failed, d, t0);
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
  EXPECT_TRUE(b.tryAcquire(t));
  EXPECT_TRUE(b.tryAcquire(t));
  EXPECT_FALSE(b.tryAcquire(t)) << "only the configured number of trials";
  b.record(false, 10ms, t);
  EXPECT_EQ(b.state(t), State::kHalfOpen);
  b.record(false, 10ms, t);
  EXPECT_EQ(b.state(t), State::kClosed);
  EXPECT_TRUE(b.tryAcquire(t));
}

TEST(CircuitBreaker, AFailedTrialOpensAgain) {
  CircuitBreaker b(small());
  calls(b, 4, true);
  auto t = t0 + 5s;
  ASSERT_TRUE(b.tryAcquire(t));
  b.record(true, 10ms, t);
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
