// The fleet-wide partner health view merged from every instance's report.
#include "plugins/fleet_health.hpp"

#include <gtest/gtest.h>

namespace {

using namespace osago::host;
using nlohmann::json;

json companyReport(const std::string& breaker, long calls, long failures, long p95, int running) {
  return {{"id", "volga-garant"},
          {"name", "Волга-Гарант"},
          {"state", "READY"},
          {"callsRunning", running},
          {"callsQueued", 0},
          {"health",
           {{"breaker", {{"state", breaker}}},
            {"latencyMs", {{"p50", 10}, {"p95", p95}, {"p99", p95}}},
            {"calls", calls},
            {"failures", failures}}}};
}

TEST(FleetHealth, ReportsTakeEveryReadyCompanyOfThisInstance) {
  osago::host::HealthView view;
  view.plugins = {{"garant", true}};
  osago::host::HealthView::Company ready;
  ready.id = "volga-garant";
  ready.plugin_id = "garant";
  ready.plugin_version = "0.1.0";
  ready.plugin_enabled = true;
  ready.ready = true;
  ready.report = companyReport("CLOSED", 1, 0, 5, 0);
  auto down = ready;
  down.id = "restarting";
  down.ready = false;  // its worker is down: no health to report now
  view.companies = {ready, down};
  auto reports = FleetHealthReporter::reportsOf(view, "i-1");
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].company_id, "volga-garant");
  EXPECT_EQ(reports[0].plugin_id, "garant");
  EXPECT_EQ(reports[0].report["pluginEnabled"], true);
  EXPECT_EQ(reports[0].report["pluginVersion"], "0.1.0");
  EXPECT_EQ(reports[0].report["health"]["breaker"]["state"], "CLOSED");
}

// Instances learn each other's answer times through their reports.
TEST(FleetHealth, AnswerTimesTravelThroughTheReports) {
  auto health_a = std::make_shared<PartnerHealth>(osago::BreakerConfig{}, RetryBudgetConfig{});
  auto health_b = std::make_shared<PartnerHealth>(osago::BreakerConfig{}, RetryBudgetConfig{});
  for (long long ms = 1000; ms < 1200; ++ms) health_a->answer_times.observe({ms, ms + 100});
  auto viewOf = [](const std::shared_ptr<PartnerHealth>& health) {
    HealthView view;
    HealthView::Company c;
    c.id = "volga-garant";
    c.plugin_id = "garant";
    c.ready = true;
    c.report = companyReport("CLOSED", 1, 0, 5, 0);
    c.health = health;
    view.companies = {c};
    return view;
  };
  auto published = FleetHealthReporter::reportsOf(viewOf(health_a), "i-a");
  ASSERT_EQ(published.size(), 1u);
  ASSERT_EQ(published[0].report["answerWindow"].size(), AnswerTimes::kShared) << "the newest, not all";
  EXPECT_EQ(published[0].report["answerWindow"].back(), json::array({1199, 1299}));

  // Instance b takes a's window (and ignores its own report and other companies').
  auto stranger = published[0];
  stranger.company_id = "someone-else";
  auto mine = FleetHealthReporter::reportsOf(viewOf(health_b), "i-b");
  FleetHealthReporter::absorbAnswerTimes(viewOf(health_b), {published[0], stranger, mine[0]}, "i-b");
  auto t = std::chrono::steady_clock::now();
  EXPECT_EQ(health_b->answer_times.distribution(t)->samples(), AnswerTimes::kShared);
  EXPECT_TRUE(health_b->answer_times.own(10).empty()) << "the fleet's are not republished as b's own";
  // A hostile report is read without harm; once a stops reporting, its window is forgotten.
  auto broken = published[0];
  broken.report["answerWindow"] = "garbage";
  FleetHealthReporter::absorbAnswerTimes(viewOf(health_b), {broken}, "i-b");
  EXPECT_EQ(health_b->answer_times.distribution(t + std::chrono::seconds(1))->samples(), 0u);
  FleetHealthReporter::absorbAnswerTimes(viewOf(health_b), {published[0]}, "i-b");
  FleetHealthReporter::absorbAnswerTimes(viewOf(health_b), {}, "i-b");
  EXPECT_EQ(health_b->answer_times.distribution(t + std::chrono::seconds(2))->samples(), 0u);
}

TEST(FleetHealth, TheViewShowsTheWorstBreakerAndTheFleetTotals) {
  std::vector<PartnerHealthReport> reports{
      {"i-1", "volga-garant", "garant", companyReport("CLOSED", 100, 10, 40, 2), "2026-11-27T10:00:00.000Z", 500},
      {"i-2", "volga-garant", "garant", companyReport("OPEN", 50, 40, 900, 1), "2026-11-27T10:00:01.000Z", 1500}};
  auto view = fleetView(reports, std::chrono::seconds(10));
  ASSERT_EQ(view["companies"].size(), 1u);
  const auto& c = view["companies"][0];
  EXPECT_EQ(c["breaker"], "OPEN") << "one instance's open breaker is the fleet's concern";
  EXPECT_EQ(c["instances"], 2);
  EXPECT_EQ(c["calls"], 150);
  EXPECT_EQ(c["failures"], 50);
  EXPECT_NEAR(c["successRate"].get<double>(), 100.0 / 150.0, 1e-9);
  EXPECT_EQ(c["p95LatencyMs"], 900);
  EXPECT_EQ(c["callsRunning"], 3);
  ASSERT_EQ(c["perInstance"].size(), 2u);
  EXPECT_EQ(c["perInstance"][1]["instance"], "i-2");
  EXPECT_EQ(c["perInstance"][1]["health"]["breaker"]["state"], "OPEN");
  EXPECT_TRUE(fleetView({}, std::chrono::seconds(10))["companies"].empty());
}

TEST(FleetHealth, AReportOfTheWrongShapeIsReadWithoutHarm) {
  // Another instance's words through PostgreSQL: every field of the wrong type
  // counts as absent, and the admin view still answers.
  std::vector<PartnerHealthReport> reports{
      {"i-1", "volga-garant", "garant", nlohmann::json("not an object"), "2026-11-27T10:00:00.000Z", 500},
      {"i-2", "volga-garant", "garant",
       {{"name", 7}, {"health", "broken"}, {"pluginVersion", {1, 2}}, {"pluginEnabled", "yes"}, {"callsRunning", "9"}},
       "2026-11-27T10:00:01.000Z", 500},
      {"i-3", "volga-garant", "garant",
       {{"health", {{"breaker", "OPEN"}, {"latencyMs", {{"p95", "slow"}}}, {"calls", nullptr}}}},
       "2026-11-27T10:00:02.000Z", 500},
      {"i-4", "volga-garant", "garant", {{"health", {{"breaker", {{"state", 2}}}, {"latencyMs", 5}}}},
       "2026-11-27T10:00:03.000Z", 500},
      {"i-5", "volga-garant", "garant",
       {{"callsRunning", 1e300}, {"callsQueued", -7}, {"health", {{"calls", 18446744073709551615ULL}, {"failures", 3.9}}}},
       "2026-11-27T10:00:04.000Z", 500}};
  nlohmann::json view;
  ASSERT_NO_THROW(view = fleetView(reports, std::chrono::seconds(10)));
  ASSERT_EQ(view["companies"].size(), 1u);
  const auto& c = view["companies"][0];
  EXPECT_EQ(c["instances"], 5);
  EXPECT_EQ(c["breaker"], "CLOSED");
  EXPECT_EQ(c["name"], "");
  EXPECT_EQ(c["calls"], 0) << "a count out of range counts as 0, not as a wrapped or overflowing sum";
  EXPECT_EQ(c["failures"], 3);
  EXPECT_EQ(c["callsRunning"], 0);
  EXPECT_EQ(c["callsQueued"], 0);
  EXPECT_TRUE(c["p95LatencyMs"].is_null());
  EXPECT_EQ(c["perInstance"][1]["pluginEnabled"], false);
  EXPECT_EQ(c["perInstance"][1]["pluginVersion"], "");
  EXPECT_EQ(c["perInstance"][1]["callsRunning"], 0);
  EXPECT_TRUE(c["perInstance"][0]["health"].is_object());
}

}  // namespace
