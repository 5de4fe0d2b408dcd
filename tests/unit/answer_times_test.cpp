// Answer-time estimation (Turnbull's estimate from intervals) and the poll
// placement it drives.
#include "scheduling/answer_times.hpp"
#include "scheduling/poll_policy.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <random>

namespace {

using namespace osago::host;
using namespace std::chrono_literals;

TEST(AnswerTimeDistribution, EmptyKnowsNothing) {
  AnswerTimeDistribution d({});
  EXPECT_EQ(d.samples(), 0u);
  EXPECT_EQ(d.cdf(1000), 0);
  EXPECT_EQ(d.quantile(0.5), 0);
}

TEST(AnswerTimeDistribution, ExactAnswersGiveTheirQuantiles) {
  std::vector<AnswerInterval> exact;
  for (long long ms = 1000; ms < 3000; ms += 20) exact.push_back({ms, ms});  // 100 answers, 1.0-3.0 s
  AnswerTimeDistribution d(exact);
  EXPECT_EQ(d.samples(), 100u);
  EXPECT_NEAR(d.quantile(0.5), 2000, 60);
  EXPECT_NEAR(d.quantile(0.9), 2800, 60);
  EXPECT_NEAR(d.cdf(2000), 0.5, 0.03);
  EXPECT_EQ(d.cdf(500), 0);
  EXPECT_EQ(d.cdf(5000), 1);
  // Monotone, and the quantile inverts the CDF.
  double last = 0;
  for (double ms = 0; ms < 4000; ms += 37) {
    EXPECT_GE(d.cdf(ms), last);
    last = d.cdf(ms);
  }
  for (double p : {0.1, 0.3, 0.7, 0.95}) EXPECT_NEAR(d.cdf(d.quantile(p)), p, 0.01);
}

// The case that a "spread each interval evenly" estimate gets wrong: answers
// come 6-14 s after submit, the first poll is at 7 s, so every answer it finds
// says only "somewhere in [0, 7 s]". The narrower intervals of later polls
// say nothing comes before 6 s, and the estimate must put that weight there.
TEST(AnswerTimeDistribution, WideEarlyIntervalsDoNotPullTowardsZero) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> ready(6000, 14000);
  std::vector<AnswerInterval> seen;
  for (int i = 0; i < 400; ++i) {
    double t = ready(rng);
    // Polls at 7 s, then every second; a small jitter in when they were made, as in life.
    double poll = 7000 + (i % 5) * 40;
    double previous = 0;
    while (poll < t) {
      previous = poll;
      poll += 1000 + (i % 3) * 30;
    }
    seen.push_back({static_cast<long long>(previous), static_cast<long long>(poll)});
  }
  AnswerTimeDistribution d(seen);
  EXPECT_LT(d.cdf(5000), 0.05) << "no answer comes before 6 s";
  EXPECT_NEAR(d.quantile(0.5), 10000, 700);
  EXPECT_NEAR(d.quantile(0.02), 6400, 800);
}

TEST(AnswerTimes, KeepsItsOwnNewestAndTheFleetsApart) {
  AnswerTimes a;
  for (long long i = 0; i < 300; ++i) a.observe({i, i + 10});
  a.observe({-1, 5});       // not an interval
  a.observe({50, 10});      // reversed
  a.observe({0, AnswerTimes::kMaxMs + 1});
  auto own = a.own(1000);
  ASSERT_EQ(own.size(), AnswerTimes::kCapacity);
  EXPECT_EQ(own.back(), (AnswerInterval{299, 309}));
  EXPECT_EQ(a.own(2).front(), (AnswerInterval{298, 308}));

  auto t0 = std::chrono::steady_clock::time_point(10s);
  EXPECT_EQ(a.distribution(t0)->samples(), AnswerTimes::kCapacity);
  a.setFleet("other", std::vector<AnswerInterval>(500, {2000, 2000}));  // trimmed to kShared
  EXPECT_EQ(a.distribution(t0 + 100ms)->samples(), AnswerTimes::kCapacity) << "rebuilt at most every refresh";
  auto both = a.distribution(t0 + 600ms);
  EXPECT_EQ(both->samples(), AnswerTimes::kCapacity + AnswerTimes::kShared);
  a.retainFleet({});
  EXPECT_EQ(a.distribution(t0 + 1200ms)->samples(), AnswerTimes::kCapacity);
}

TEST(AnswerTimes, AFleetReportIsReadAsHostileInput) {
  auto window = nlohmann::json::parse(R"([[100, 200], [5, 1], [-1, 3], ["1", 2], [1.5, 2], [1, 2, 3], 7, null,
                                          [0, 600001], [300, 300]])");
  auto read = answerWindowFrom(window);
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read[0], (AnswerInterval{100, 200}));
  EXPECT_EQ(read[1], (AnswerInterval{300, 300}));
  EXPECT_TRUE(answerWindowFrom(nlohmann::json("not an array")).empty());
  nlohmann::json huge = nlohmann::json::array();
  for (int i = 0; i < 100000; ++i) huge.push_back({i, i});
  EXPECT_EQ(answerWindowFrom(huge).size(), AnswerTimes::kShared);
}

AnswerTimeDistribution uniform(long long from, long long to, int n = 200) {
  std::vector<AnswerInterval> v;
  for (int i = 0; i < n; ++i) {
    long long t = from + (to - from) * i / (n - 1);
    v.push_back({t, t});
  }
  return AnswerTimeDistribution(v);
}

TEST(LearnedPolling, FirstPollWhereAnswersBegin) {
  auto f = uniform(6000, 14000);
  PollPolicy p(500ms, 5000ms, {true, 0.5, 1000ms, 20}, 1);
  // Right after the submit: the first answers come at 6 s, so at most max_gap after that.
  auto d = p.learned({1, std::nullopt, 0ms, &f});
  ASSERT_TRUE(d);
  EXPECT_NEAR(static_cast<double>(d->count()), 6160 + 1000, 100);
  // With a wide gap allowed, the median of what is still to come.
  PollPolicy wide(500ms, 5000ms, {true, 0.5, 60000ms, 20}, 1);
  EXPECT_NEAR(static_cast<double>(wide.learned({1, std::nullopt, 0ms, &f})->count()), 10000, 100);
  // Halfway through: the median of the rest, 12 s, but at most max_gap away.
  EXPECT_NEAR(static_cast<double>(wide.learned({2, std::nullopt, 10000ms, &f})->count()), 2000, 100);
  EXPECT_EQ(p.learned({2, std::nullopt, 10000ms, &f}), 1000ms);
}

TEST(LearnedPolling, BacksOffWhenItKnowsNothing) {
  auto f = uniform(1000, 3000);
  PollPolicy p(500ms, 5000ms, {true, 0.5, 1000ms, 20}, 1);
  EXPECT_FALSE(p.learned({1, std::nullopt, std::nullopt, &f})) << "not submitted";
  EXPECT_FALSE(p.learned({1, std::nullopt, 1000ms, nullptr})) << "no distribution";
  auto few = uniform(1000, 3000, 10);
  EXPECT_FALSE(p.learned({1, std::nullopt, 1000ms, &few})) << "fewer than min_samples";
  PollPolicy off(500ms, 5000ms, {false, 0.5, 1000ms, 20}, 1);
  EXPECT_FALSE(off.learned({1, std::nullopt, 1000ms, &f})) << "switched off";
  // Then delay() is the backoff: attempt 3 is in [1000, 2000] ms.
  auto d = p.delay({3, std::nullopt, 4000ms, &few});
  EXPECT_GE(d, 1000ms);
  EXPECT_LE(d, 2000ms);
}

// Past the answers it knows (something unusual, e.g. a manual check), it backs
// off from where they end — not by the attempt count, which after many
// well-placed polls would jump to the cap at once.
TEST(LearnedPolling, PastTheKnownAnswersItBacksOffFromThere) {
  auto f = uniform(1000, 3000);
  PollPolicy p(500ms, 5000ms, {true, 0.5, 1000ms, 20}, 1);
  EXPECT_EQ(p.learned({9, std::nullopt, 3100ms, &f}), 1000ms) << "just past: max_gap";
  EXPECT_NEAR(static_cast<double>(p.learned({12, std::nullopt, 6000ms, &f})->count()), 3000, 30) << "3 s past: 3 s";
  EXPECT_EQ(p.learned({20, std::nullopt, 30000ms, &f}), 5000ms) << "never past the cap";
}

TEST(LearnedPolling, NeverUndercutsRetryAfterNorPollsInABurst) {
  auto f = uniform(1000, 3000);
  PollPolicy p(500ms, 5000ms, {true, 0.5, 1000ms, 20}, 1);
  // Learned: the median of [1.5 s, 3 s] is 2.25 s, 750 ms from now; the partner says 2 s.
  EXPECT_NEAR(static_cast<double>(p.delay({1, std::nullopt, 1500ms, &f}).count()), 750, 30);
  EXPECT_EQ(p.delay({1, 2000ms, 1500ms, &f}), 2000ms);
  // A Retry-After shorter than the learned delay does not make it sooner.
  EXPECT_NEAR(static_cast<double>(p.delay({1, 200ms, 1500ms, &f}).count()), 750, 30);
  // Just short of the 99th percentile: at least 100 ms away, not a burst of polls.
  EXPECT_GE(p.delay({1, std::nullopt, 2970ms, &f}), 100ms);
  // And never past the cap.
  PollPolicy capped(500ms, 1500ms, {true, 0.5, 60000ms, 20}, 1);
  auto late = uniform(10000, 20000);
  EXPECT_EQ(capped.delay({1, std::nullopt, 0ms, &late}), 1500ms);
}

}  // namespace
