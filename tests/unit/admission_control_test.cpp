// When an aggregator instance refuses new quote requests (load shedding).
#include "scheduling/admission_control.hpp"

#include <gtest/gtest.h>

namespace {

using namespace osago::host;
using namespace std::chrono_literals;
using Clock = AdmissionControl::Clock;

const Clock::time_point kT0 = Clock::time_point(std::chrono::hours(1000));

AdmissionControl withBounds(std::chrono::milliseconds backlog, std::chrono::milliseconds pool_wait) {
  return AdmissionControl(AdmissionConfig{backlog, pool_wait}, 4);
}

TEST(AdmissionControl, TakesWorkWhileTheClaimedWorkIsOnTime) {
  auto a = withBounds(2000ms, 500ms);
  EXPECT_FALSE(a.refusal(kT0));  // nothing observed yet
  a.observeClaim(300ms, true, kT0);
  EXPECT_FALSE(a.refusal(kT0 + 100ms));
  EXPECT_EQ(a.backlog(kT0 + 100ms), 400ms);  // took all it asked for: the oldest due item waits on
}

TEST(AdmissionControl, RefusesWhileDueWorkWaitsLongerThanTheBoundAndSaysWhen) {
  auto a = withBounds(2000ms, 500ms);
  a.observeClaim(3400ms, true, kT0);
  auto r = a.refusal(kT0);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "backlog");
  EXPECT_EQ(r->retry_after, 4s);  // about when the backlog is worked off, rounded up
  EXPECT_NE(r->message.find("3400 ms"), std::string::npos) << r->message;
}

TEST(AdmissionControl, TheBacklogGrowsWhileNoWorkerFreesUp) {
  // Every worker held by a slow partner: no claim for seconds while more is due.
  auto a = withBounds(2000ms, 500ms);
  a.observeClaim(100ms, true, kT0);
  EXPECT_FALSE(a.refusal(kT0 + 1s));
  EXPECT_TRUE(a.refusal(kT0 + 2500ms));
  // A claim that found less due than it asked for: nothing more waits.
  a.observeClaim(0ms, false, kT0 + 3s);
  EXPECT_EQ(a.backlog(kT0 + 60s), 0ms);
  EXPECT_FALSE(a.refusal(kT0 + 60s));
}

TEST(AdmissionControl, TakesWorkAgainOnlyBelowHalfTheBound) {
  auto a = withBounds(2000ms, 500ms);
  a.observeClaim(2500ms, false, kT0);
  EXPECT_TRUE(a.refusal(kT0));
  a.observeClaim(1500ms, false, kT0 + 1s);  // under the bound, not yet under half
  EXPECT_TRUE(a.refusal(kT0 + 1s));
  a.observeClaim(900ms, false, kT0 + 2s);
  EXPECT_FALSE(a.refusal(kT0 + 2s));
  a.observeClaim(1500ms, false, kT0 + 3s);  // rising again, still under the bound
  EXPECT_FALSE(a.refusal(kT0 + 3s));
}

TEST(AdmissionControl, RefusesWhileTheApiWaitsForDatabaseConnections) {
  auto a = withBounds(2000ms, 500ms);
  for (int i = 0; i < 30; ++i) a.observePoolWait(900ms, kT0 + std::chrono::milliseconds(i));
  auto r = a.refusal(kT0 + 30ms);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "database_pool");
  EXPECT_EQ(r->retry_after, 1s);
  // Waits of a second ago and more are forgotten: no acquisitions, no pressure.
  EXPECT_FALSE(a.refusal(kT0 + 2s));
}

TEST(AdmissionControl, OneSlowAcquisitionAmongFastOnesIsNoPressure) {
  auto a = withBounds(2000ms, 500ms);
  for (int i = 0; i < 20; ++i) a.observePoolWait(1ms, kT0);
  a.observePoolWait(1s, kT0);
  EXPECT_FALSE(a.refusal(kT0)) << "one 1 s wait among fast ones moves the mean by about 100 ms";
  for (int i = 0; i < 9; ++i) a.observePoolWait(1s, kT0);
  EXPECT_TRUE(a.refusal(kT0)) << "ten in a row are pressure";
}

TEST(AdmissionControl, ABurstOfDueCallsIsRefusedBeforeAnyOfThemHasWaited) {
  auto a = withBounds(2000ms, 500ms);
  for (int i = 0; i < 100; ++i) a.observeCall(10ms);  // 4 workers: 400 calls/s
  a.observeClaim(0ms, true, kT0);
  a.observeDue(400, 1, kT0);  // one second of work
  EXPECT_EQ(a.backlog(kT0), 1000ms);
  EXPECT_FALSE(a.refusal(kT0));
  a.observeDue(1200, 1, kT0 + 100ms);  // three seconds of it
  EXPECT_EQ(a.backlog(kT0 + 100ms), 3000ms);
  EXPECT_TRUE(a.refusal(kT0 + 100ms));
  a.observeDue(1200, 3, kT0 + 200ms);  // three instances make them
  EXPECT_EQ(a.backlog(kT0 + 200ms), 1000ms);
  // A count older than kDueMemory is not used.
  a.observeClaim(0ms, false, kT0 + 5s);
  EXPECT_EQ(a.backlog(kT0 + 5s), 0ms);
}

TEST(AdmissionControl, ZeroBoundsNeverRefuse) {
  auto a = withBounds(0ms, 0ms);
  a.observeClaim(50s, true, kT0);
  for (int i = 0; i < 30; ++i) a.observePoolWait(5s, kT0);
  EXPECT_FALSE(a.refusal(kT0 + 10s));
}

}  // namespace
