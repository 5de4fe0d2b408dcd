// Nothing is lost when an aggregator instance dies mid-flight, and several
// instances share the work without polling one application twice at once.
#include "flow_helpers.hpp"

#include <osago/common/ids.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>
#include <thread>

namespace {

using namespace osago::testing;
using nlohmann::json;

json insurerStats(const std::string& insurer) {
  return httpJson("GET", stack().simulatorUrl() + "/control/insurers/" + insurer).body["stats"];
}

/// 200 requests in flight on two instances; the first one is stopped with
/// `signal`; the survivor finishes everything, nothing is lost on the way to Kafka.
void loseTheFirstInstanceMidFlight(int signal) {
  constexpr int kRequests = 200;
  std::string second = stack().secondAggregatorUrl();
  // Partners answer slowly enough that the kill lands in the middle of the work.
  for (const auto& [insurer, rate] : TestStack::offeringInsurers())
    ASSERT_EQ(httpJson("PUT", stack().simulatorUrl() + "/control/insurers/" + insurer + "/behaviour",
                       {{"pendingMs", 1000}, {"mode", "normal"}, {"errorRate", 0}})
                  .status,
              200);
  std::map<std::string, long> applications_before;
  for (const auto& [insurer, rate] : TestStack::offeringInsurers())
    applications_before[insurer] = insurerStats(insurer)["applications"].get<long>();

  // 200 requests, created from 8 clients at once on both instances.
  std::vector<std::string> ids(kRequests);
  std::vector<std::thread> clients;
  std::atomic<int> failures{0};
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      json body = quote();
      body["userId"] = "durability";
      for (int i = c; i < kRequests; i += 8) {
        body["correlationId"] = osago::newUuid();
        auto created = createQuote(i % 2 ? second : stack().aggregatorUrl(), body);
        if (created.status != 201) ++failures;
        else ids[static_cast<std::size_t>(i)] = created.body["osagoRequestId"];
      }
    });
  }
  for (auto& t : clients) t.join();
  ASSERT_EQ(failures, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto in_flight = std::stoi(stack().query("SELECT count(*) FROM quote_requests WHERE status = 'IN_PROGRESS' "
                                            "AND user_id = 'durability'")[0]);
  // Both instances are working on this run's requests (counted over them only:
  // earlier tests' rows say nothing about this one). After the stop the
  // survivor records every final outcome, so this is asked before it.
  std::string this_run = "{";
  for (std::size_t i = 0; i < ids.size(); ++i) this_run += (i ? "," : "") + ids[i];
  this_run += "}";
  std::set<std::string> workers;
  for (const auto& w : stack().query("SELECT DISTINCT coalesce(lease_owner, last_owner) FROM company_quotes "
                                     "WHERE coalesce(lease_owner, last_owner) IS NOT NULL "
                                     "AND request_id = ANY('" + this_run + "'::uuid[])"))
    workers.insert(w);
  EXPECT_GE(workers.size(), 2u) << "both instances took part in this run's requests";
  auto stop_started = std::chrono::steady_clock::now();
  stack().stopFirstAggregator(signal);
  EXPECT_GE(in_flight, kRequests / 4) << "the stop must land while much of the work is in flight";
  std::cerr << "[          ] " << in_flight << " of " << kRequests << " requests in flight at the "
            << (signal == SIGKILL ? "kill" : "SIGTERM") << "; the instance was gone after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - stop_started).count()
            << " ms\n";

  // Every request reaches a final status for every company, served by the survivor.
  for (const auto& id : ids) {
    json view = waitFinal(id, second);
    ASSERT_EQ(view["status"], "COMPLETED") << id << " " << view.dump();
    auto companies = byCompany(view["insuranceCompanies"]);
    for (const auto& [insurer, rate] : TestStack::offeringInsurers()) {
      EXPECT_EQ(companies[insurer]["status"], "COMPLETED") << id << " " << insurer << " " << companies[insurer].dump();
      EXPECT_EQ(companies[insurer]["offer"]["premium"]["amount"], expectedPremium(quote(), rate));
    }
    EXPECT_EQ(companies["slow"]["status"], "TIMEOUT");
  }

  for (const auto& [insurer, rate] : TestStack::offeringInsurers()) {
    json stats = insurerStats(insurer);
    long submitted = stats["applications"].get<long>() - applications_before[insurer];
    std::cerr << "[          ] " << insurer << ": " << submitted << " applications for " << kRequests << " requests\n";
    if (signal == SIGKILL) {
      // A submit the dead instance had sent but not recorded is sent again (at least once);
      // at most one per call it had in flight (8 workers).
      EXPECT_GE(submitted, kRequests) << insurer;
      EXPECT_LE(submitted, kRequests + 8) << insurer;
    } else {
      // Stopped gracefully, the instance finished and recorded every call it had started:
      // nothing is sent twice.
      EXPECT_EQ(submitted, kRequests) << insurer;
    }
    EXPECT_EQ(stats["overlappingPolls"], 0) << insurer << ": one application was polled twice at once";
  }

  // Nothing lost on the way to Kafka: every event of every request, gap-free.
  long long expected = 0;
  std::map<std::string, long long> last_seq;
  for (const auto& id : ids)
    expected += last_seq[id] = aggregatorJson("GET", second + "/osago/requests/" + id).body["lastSeq"].get<long long>();
  std::map<std::string, std::set<long long>> seqs;
  std::size_t total = 0;
  auto all = readKafkaTopic(stack().kafkaBrokers(), stack().topic(), std::set<std::string>(ids.begin(), ids.end()),
                            static_cast<std::size_t>(expected), std::chrono::seconds(60));
  for (const auto& e : all) {
    seqs[e["osagoRequestId"].get<std::string>()].insert(e["seq"].get<long long>());
    ++total;
  }
  for (const auto& id : ids) {
    long long last = last_seq[id];
    ASSERT_EQ(seqs[id].size(), static_cast<std::size_t>(last)) << id;
    EXPECT_EQ(*seqs[id].begin(), 1);
    EXPECT_EQ(*seqs[id].rbegin(), last);
  }
  EXPECT_GE(total, static_cast<std::size_t>(expected)) << "duplicates are allowed (consumers dedupe), losses are not";

  stack().restartFirstAggregator();
  ASSERT_EQ(httpJson("POST", stack().simulatorUrl() + "/control/reset").status, 200);
}

TEST(Durability, AKilledInstancesWorkIsTakenOverAndNothingIsLost) { loseTheFirstInstanceMidFlight(SIGKILL); }

TEST(Durability, AnInstanceStoppedWithSigtermFinishesItsCallsAndNothingIsLostOrSentTwice) {
  loseTheFirstInstanceMidFlight(SIGTERM);
}

}  // namespace

namespace {

TEST(Isolation, AHangingPartnerIsCutOffAndTheOthersAreNotHurt) {
  // One instance, so that one breaker sees every call (breakers are per instance).
  stack().stopSecondAggregator();
  const std::string bad = "yuzhny-bereg";
  ASSERT_EQ(httpJson("PUT", stack().simulatorUrl() + "/control/insurers/" + bad + "/behaviour", {{"mode", "hang"}}).status,
            200);
  auto create = [](int n) {
    std::vector<std::string> ids(static_cast<std::size_t>(n));
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c)
      clients.emplace_back([&, c] {
        json body = quote();
        body["userId"] = "isolation";
        for (int i = c; i < n; i += 4) {
          body["correlationId"] = osago::newUuid();
          ids[static_cast<std::size_t>(i)] = createQuote(stack().aggregatorUrl(), body)
                                                 .body.value("osagoRequestId", "");
        }
      });
    for (auto& t : clients) t.join();
    return ids;
  };
  auto health = [&] {
    json listing = admin("GET", "/admin/plugins").body;
    for (const auto& p : listing["plugins"])
      for (const auto& c : p["companies"])
        if (c["id"] == bad) return c;
    return json();
  };
  /// Waits for every request; checks the others were not hurt; counts how the bad partner ended.
  auto finish = [&](const std::vector<std::string>& ids) {
    std::map<std::string, int> endings;
    for (const auto& id : ids) {
      EXPECT_FALSE(id.empty());
      json view = waitFinal(id);
      EXPECT_EQ(view["status"], "COMPLETED") << "every request ends by its deadline";
      auto companies = byCompany(view["insuranceCompanies"]);
      for (const auto& [insurer, rate] : TestStack::offeringInsurers()) {
        if (insurer == bad) continue;
        EXPECT_EQ(companies[insurer]["status"], "COMPLETED") << insurer << " was hurt by the hanging partner";
      }
      EXPECT_TRUE(companies[bad]["status"] == "FAILED" || companies[bad]["status"] == "TIMEOUT") << companies[bad].dump();
      endings[companies[bad]["error"].value("code", "?")]++;
    }
    for (const auto& [code, n] : endings) std::cerr << "[          ] " << bad << ": " << n << " x " << code << "\n";
    return endings;
  };

  // While the breaker is closed, calls to the hanging partner time out; its bulkhead stays bounded.
  // 24 failures fill its window of 20 calls whatever it held before.
  auto first = create(24);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  json during = health();
  EXPECT_LE(during["callsRunning"].get<int>(), during["maxConcurrentCalls"].get<int>()) << during.dump();
  // A submit that waited its whole budget for one of the partner's stuck slots was never sent: it is
  // tried again, by which time the breaker these failures fed may be open (CIRCUIT_OPEN).
  for (const auto& [code, n] : finish(first))
    EXPECT_TRUE(code == "PARTNER_TIMEOUT" || code == "PLUGIN_HUNG" || code == "BULKHEAD_FULL" ||
                code == "DEADLINE_EXCEEDED" || code == "CIRCUIT_OPEN")
        << code;
  EXPECT_EQ(health()["health"]["breaker"]["state"], "OPEN") << health().dump();

  // Once it is open, new work for that partner fails at once instead of waiting.
  auto second = create(8);
  auto endings = finish(second);
  EXPECT_EQ(endings["CIRCUIT_OPEN"], 8);

  ASSERT_EQ(httpJson("PUT", stack().simulatorUrl() + "/control/insurers/" + bad + "/behaviour", {{"mode", "normal"}}).status,
            200);
}

}  // namespace

namespace {

TEST(Durability, APostgreSQLRestartUnderLoadIsSurvivedWithoutRestartingTheService) {
  const char* restart = std::getenv("OSAGO_TEST_PG_RESTART");
  ASSERT_NE(restart, nullptr) << "run through ./osago test, which says how to restart its PostgreSQL";
  std::vector<std::string> ids;
  json body = quote();
  body["userId"] = "pg-restart";
  for (int i = 0; i < 30; ++i) {
    body["correlationId"] = osago::newUuid();
    auto created = createQuote(stack().aggregatorUrl(), body);
    ASSERT_EQ(created.status, 201);
    ids.push_back(created.body["osagoRequestId"]);
  }
  ASSERT_EQ(std::system((std::string(restart) + " > /dev/null 2>&1").c_str()), 0) << restart;

  for (const auto& id : ids) {
    json view = waitFinal(id);
    ASSERT_EQ(view["status"], "COMPLETED") << id << " " << view.dump();
    auto companies = byCompany(view["insuranceCompanies"]);
    for (const auto& [insurer, rate] : TestStack::offeringInsurers())
      EXPECT_EQ(companies[insurer]["offer"]["premium"]["amount"], expectedPremium(quote(), rate)) << insurer;
  }
  // And new work is taken as before.
  body["correlationId"] = osago::newUuid();
  auto after = createQuote(stack().aggregatorUrl(), body);
  ASSERT_EQ(after.status, 201) << after.body.dump();
  EXPECT_EQ(waitFinal(after.body["osagoRequestId"])["status"], "COMPLETED");
}

}  // namespace

namespace {

/// Freezes (SIGSTOP) every process of the test PostgreSQL: its sockets stay
/// open and the kernel acknowledges what is sent, but nothing answers — what a
/// failover leaves behind as a half-open connection. Thawed when destroyed.
class FrozenPostgres {
 public:
  explicit FrozenPostgres(std::chrono::seconds at_most) {
    const char* pid_file = std::getenv("OSAGO_TEST_PG_PID_FILE");
    if (!pid_file) throw std::runtime_error("run through ./osago test, which exports OSAGO_TEST_PG_PID_FILE");
    std::ifstream in(pid_file);
    in >> pid_;
    if (pid_ <= 0) throw std::runtime_error(std::string("no postmaster pid in ") + pid_file);
    // A watchdog thaws it even if this test process dies meanwhile (a ctest
    // timeout kills it): a PostgreSQL left frozen would fail every later test.
    std::string watchdog = "(sleep " + std::to_string(at_most.count()) + "; " + thawCommand() + ") >/dev/null 2>&1 &";
    if (std::system(watchdog.c_str()) != 0) throw std::runtime_error("cannot start the thaw watchdog");
    // The postmaster first (it forks no new backend meanwhile), then its children.
    std::string freeze = "kill -STOP " + std::to_string(pid_) + " && pkill -STOP -P " + std::to_string(pid_);
    if (std::system(freeze.c_str()) != 0) {
      thaw();
      throw std::runtime_error("cannot stop PostgreSQL: " + freeze);
    }
  }
  ~FrozenPostgres() { thaw(); }

 private:
  std::string thawCommand() const {
    return "pkill -CONT -P " + std::to_string(pid_) + "; kill -CONT " + std::to_string(pid_);
  }
  void thaw() {
    int rc = std::system(thawCommand().c_str());
    (void)rc;  // nothing to do about it here; the watchdog tries again
  }
  long pid_ = 0;
};

// Issue 14, defect 3: with only a connect timeout, a silent server held every
// thread that talked to it, and /health/ready hung with them.
TEST(Durability, AFrozenPostgreSQLHoldsNoThreadAndHealthSaysSoUntilItAnswersAgain) {
  std::string aggregator = stack().aggregatorUrl();
  json body = quote();
  body["userId"] = "pg-frozen";
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    body["correlationId"] = osago::newUuid();
    auto created = createQuote(aggregator, body);
    ASSERT_EQ(created.status, 201) << created.body.dump();
    ids.push_back(created.body["osagoRequestId"]);
  }
  auto timed = [&](const std::string& path) {
    auto started = std::chrono::steady_clock::now();
    auto r = httpJson("GET", aggregator + path);
    return std::make_pair(r, std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started));
  };
  {
    FrozenPostgres frozen(std::chrono::seconds(60));
    auto frozen_at = std::chrono::steady_clock::now();
    bool said_down = false;
    long slowest_ready_ms = 0, slowest_live_ms = 0;
    while (std::chrono::steady_clock::now() - frozen_at < std::chrono::seconds(20)) {
      auto [ready, ready_took] = timed("/health/ready");
      auto [live, live_took] = timed("/health/live");
      slowest_ready_ms = std::max<long>(slowest_ready_ms, ready_took.count());
      slowest_live_ms = std::max<long>(slowest_live_ms, live_took.count());
      EXPECT_EQ(live.status, 200) << "the process itself is fine";
      if (ready.status == 503) {
        said_down = true;
        EXPECT_NE(ready.body.value("postgres", "").find("DOWN"), std::string::npos) << ready.body.dump();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    EXPECT_TRUE(said_down) << "/health/ready must say PostgreSQL is down";
    EXPECT_LT(slowest_ready_ms, 6000) << "readiness answers within its own bound, however silent the server";
    EXPECT_LT(slowest_live_ms, 2000);
    std::cerr << "[          ] during 20 s of a frozen PostgreSQL: slowest /health/ready " << slowest_ready_ms
              << " ms, slowest /health/live " << slowest_live_ms << " ms\n";
  }
  // Thawed: the service is ready again by itself, finishes what it had, and takes new work.
  auto thawed_at = std::chrono::steady_clock::now();
  int ready_status = 0;
  while (std::chrono::steady_clock::now() - thawed_at < std::chrono::seconds(30)) {
    ready_status = httpJson("GET", aggregator + "/health/ready").status;
    if (ready_status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ASSERT_EQ(ready_status, 200) << "ready again within 30 s of the thaw";
  std::cerr << "[          ] ready again " << std::chrono::duration_cast<std::chrono::milliseconds>(
                                                    std::chrono::steady_clock::now() - thawed_at).count()
            << " ms after the thaw\n";
  for (const auto& id : ids) EXPECT_EQ(waitFinal(id)["status"], "COMPLETED") << id;
  body["correlationId"] = osago::newUuid();
  auto after = createQuote(aggregator, body);
  ASSERT_EQ(after.status, 201) << after.body.dump();
  json view = waitFinal(after.body["osagoRequestId"]);
  ASSERT_EQ(view["status"], "COMPLETED");
  auto companies = byCompany(view["insuranceCompanies"]);
  for (const auto& [insurer, rate] : TestStack::offeringInsurers())
    EXPECT_EQ(companies[insurer]["status"], "COMPLETED") << insurer << " " << companies[insurer].dump();
}

}  // namespace
