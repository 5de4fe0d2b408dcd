// What operators watch: the Prometheus metrics of both services change as a
// quote flows through the real binaries.
#include "flow_helpers.hpp"

#include <osago/common/http_client.hpp>
#include <osago/common/ids.hpp>
#include <osago/common/trace_context.hpp>

#include <Poco/URI.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

namespace {

using namespace osago::testing;

/// Both aggregator instances of the test stack share the work: their series are added up.
Scrape scrapeAggregators() {
  auto a = scrape(stack().aggregatorUrl());
  auto b = scrape(stack().secondAggregatorUrl());
  a.text += "\n" + b.text;
  a.status = std::max(a.status, b.status);
  return a;
}

/// A quote as a driver makes it at core-app, watched on its stream to the end; its id.
std::string quoteWatchedToTheEnd(const std::string& user) {
  std::string token = login(user);
  auto created = httpJson("POST", stack().coreUrl() + "/api/osago/requests", quote(), token);
  EXPECT_EQ(created.status, 201) << created.body.dump();
  if (created.status != 201) return "";
  std::string id = created.body["osagoRequestId"];
  auto [status, events] = readEventStream(stack().coreUrl() + "/api/osago/requests/" + id + "/stream", token,
                                          std::chrono::seconds(TestStack::kDeadlineSeconds + 15));
  EXPECT_EQ(status, 200);
  return id;
}

TEST(Metrics, BothServicesCountAQuoteAsItFlows) {
  auto agg_before = scrapeAggregators();
  auto core_before = scrape(stack().coreUrl());
  ASSERT_EQ(agg_before.status, 200);
  ASSERT_EQ(core_before.status, 200);
  EXPECT_NE(agg_before.content_type.find("text/plain"), std::string::npos);

  std::string id = quoteWatchedToTheEnd("metrics-user");
  ASSERT_FALSE(id.empty());
  auto stored = waitFinal(id);
  std::size_t companies = stored["insuranceCompanies"].size();
  std::size_t offers = 0;
  for (const auto& c : stored["insuranceCompanies"]) offers += c["status"] == "COMPLETED";

  auto agg = scrapeAggregators();
  auto core = scrape(stack().coreUrl());
  // osago-aggregator: the request, its partner calls, its companies' final statuses, the publishing.
  EXPECT_GE(agg.sum("osago_quote_requests_total", {"result=\"created\""}) -
                agg_before.sum("osago_quote_requests_total", {"result=\"created\""}), 1);
  EXPECT_GE(agg.sum("osago_partner_calls_total", {"operation=\"submit\""}) -
                agg_before.sum("osago_partner_calls_total", {"operation=\"submit\""}), static_cast<double>(offers));
  EXPECT_GT(agg.sum("osago_partner_calls_total", {"company=\"severny-shchit\"", "outcome=\"offer\""}), 0);
  EXPECT_GT(agg.sum("osago_partner_call_duration_seconds_count", {"company=\"severny-shchit\""}), 0);
  EXPECT_GE(agg.sum("osago_company_quotes_final_total") - agg_before.sum("osago_company_quotes_final_total"),
            static_cast<double>(companies - 1));  // one may have been final at creation (switched off)
  EXPECT_GE(agg.sum("osago_quote_request_final_seconds_count") - agg_before.sum("osago_quote_request_final_seconds_count"), 1);
  EXPECT_GE(agg.sum("osago_quote_offer_seconds_count") - agg_before.sum("osago_quote_offer_seconds_count"),
            static_cast<double>(offers));
  ASSERT_GT(offers, 0u);
  EXPECT_GE(agg.sum("osago_quote_first_offer_seconds_count") - agg_before.sum("osago_quote_first_offer_seconds_count"), 1);
  // Once per request at most, over everything this stack has done.
  EXPECT_LE(agg.sum("osago_quote_first_offer_seconds_count"), agg.sum("osago_quote_requests_total", {"result=\"created\""}));
  EXPECT_LE(agg.sum("osago_quote_first_offer_seconds_count"), agg.sum("osago_quote_offer_seconds_count"));
  EXPECT_GT(agg.sum("osago_events_published_total", {"result=\"acked\""}), 0);
  EXPECT_GT(agg.sum("osago_kafka_publish_seconds_count"), 0);
  EXPECT_TRUE(agg.has("osago_outbox_backlog"));
  EXPECT_TRUE(agg.has("osago_partner_breaker_state{company=\"severny-shchit\"}"));
  EXPECT_TRUE(agg.has("osago_partner_bulkhead_in_use{company=\"severny-shchit\"}"));
  EXPECT_EQ(agg.sum("osago_plugin_enabled", {"plugin=\"polisnet\""}), 2);  // on, as each instance sees it
  // core-app: what it read from Kafka and what it wrote to the stream.
  EXPECT_GE(core.sum("osago_core_events_consumed_total", {"result=\"new\""}) -
                core_before.sum("osago_core_events_consumed_total", {"result=\"new\""}), static_cast<double>(companies));
  EXPECT_GE(core.sum("osago_core_stream_messages_total", {"type=\"end\""}) -
                core_before.sum("osago_core_stream_messages_total", {"type=\"end\""}), 1);
  EXPECT_TRUE(core.has("osago_core_open_streams"));
  EXPECT_TRUE(core.has("osago_core_dependency_breaker_state{dependency=\"osago-aggregator\"}"));
  EXPECT_EQ(core.sum("osago_core_dependency_breaker_state", {"dependency=\"osago-aggregator\""}), 0);

  // The requests themselves, by route pattern (never the raw path) and status class, on both services.
  auto moved = [](const Scrape& after, const Scrape& before, const std::string& name, const std::vector<std::string>& labels) {
    return after.sum(name, labels) - before.sum(name, labels);
  };
  const std::vector<std::string> core_create{"route=\"/api/osago/requests\"", "method=\"POST\"", "status=\"2xx\""};
  EXPECT_GE(moved(core, core_before, "osago_http_requests_total", core_create), 1);
  EXPECT_GE(moved(core, core_before, "osago_http_request_duration_seconds_count",
                  {"route=\"/api/osago/requests\"", "method=\"POST\""}), 1);
  const std::vector<std::string> agg_create{"route=\"/osago/requests\"", "method=\"POST\"", "status=\"2xx\""};
  EXPECT_GE(moved(agg, agg_before, "osago_http_requests_total", agg_create), 1);
  EXPECT_GE(moved(agg, agg_before, "osago_http_requests_total", {"route=\"/osago/requests/{id}\"", "status=\"2xx\""}), 1)
      << "waitFinal read the request";
  EXPECT_EQ(agg.text.find("route=\"/osago/requests/" + id), std::string::npos) << "a raw path became a label";
  EXPECT_TRUE(core.has("osago_http_requests_in_flight"));
  // core-app's own calls: the create went to the aggregator and came back 2xx.
  EXPECT_GE(moved(core, core_before, "osago_core_client_requests_total",
                  {"dependency=\"osago-aggregator\"", "outcome=\"2xx\""}), 1);
  EXPECT_GE(moved(core, core_before, "osago_core_client_request_duration_seconds_count", {"dependency=\"osago-aggregator\""}), 1);
  EXPECT_TRUE(core.has("osago_core_client_requests_total{dependency=\"client-info\",outcome=\"breaker_open\"}"));
  // The process, the consumer's lag and the outbox's oldest event.
  for (const auto* s : {&agg, &core}) {
    EXPECT_GT(s->sum("process_resident_memory_bytes"), 1 << 20);
    EXPECT_GT(s->sum("process_threads"), 1);
    EXPECT_GT(s->sum("process_open_fds"), 3);
    EXPECT_GT(s->sum("process_start_time_seconds"), 1.7e9);
    EXPECT_TRUE(s->has("process_cpu_seconds_total"));
  }
  EXPECT_TRUE(core.has("osago_core_kafka_consumer_lag{partition=\"0\"}"));
  EXPECT_GE(moved(core, core_before, "osago_core_event_delivery_seconds_count", {}), static_cast<double>(companies))
      << "each company's event reached the open stream";
  EXPECT_TRUE(agg.has("osago_outbox_oldest_unpublished_age_seconds"));
}

}  // namespace

namespace {

/// An instant query at the test stack's Prometheus: its status ("success" or the error) and how many series it gave.
std::pair<std::string, std::size_t> promQuery(const std::string& prometheus, const std::string& expr) {
  std::string encoded;
  Poco::URI::encode(expr, "&+=#%;/?", encoded);
  osago::http::ClientRequest req;
  req.url = prometheus + "/api/v1/query?query=" + encoded;
  req.timeout = std::chrono::seconds(10);
  auto r = osago::http::call(req);
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_object()) return {"HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 200), 0};
  if (j.value("status", "") != "success") return {j.value("error", r.body.substr(0, 200)), 0};
  const auto& result = j["data"]["result"];
  return {"success", result.is_array() ? result.size() : 1};
}

TEST(Monitoring, EveryRuleAndDashboardQueryWorksOnTheStacksPrometheus) {
  const char* prometheus = std::getenv("OSAGO_TEST_PROMETHEUS_URL");
  ASSERT_NE(prometheus, nullptr) << "start_test_stack (./osago test) runs a Prometheus for this test";
  std::ifstream in(std::string(OSAGO_TEST_SOURCE_DIR) + "/packaging/monitoring/queries.json");
  auto queries = nlohmann::json::parse(in);
  ASSERT_GT(queries.size(), 50u);
  std::size_t rules_written = 0;  // each rule once: "rule …" (a recording rule) and "alert …" (not its measure)
  for (const auto& q : queries) {
    std::string source = q["source"];
    rules_written += source.rfind("rule ", 0) == 0 ||
                     (source.rfind("alert ", 0) == 0 && source.find("(its measure)") == std::string::npos);
  }
  // The rules are loaded, each group without an error.
  {
    osago::http::ClientRequest req;
    req.url = std::string(prometheus) + "/api/v1/rules";
    req.timeout = std::chrono::seconds(10);
    auto rules = nlohmann::json::parse(osago::http::call(req).body);
    std::size_t loaded = 0;
    for (const auto& g : rules["data"]["groups"]) {
      loaded += g["rules"].size();
      for (const auto& r : g["rules"])
        EXPECT_NE(r.value("health", ""), "err") << r.value("name", "") << ": " << r.value("lastError", "");
    }
    EXPECT_EQ(loaded, rules_written) << "the rules of packaging/monitoring/prometheus/osago-rules.yml";
  }
  std::string id = quoteWatchedToTheEnd("monitoring-user");
  ASSERT_FALSE(id.empty());
  waitFinal(id);
  // This stack's services are scraped (its targets file: TestStack), then every
  // query must be valid and those that measure something must have series.
  std::string core_up = "up{job=\"osago-core-app\",instance=\"" + stack().coreUrl().substr(7) + "\"} == 1";
  std::string agg_up = "up{job=\"osago-aggregator\",instance=\"" + stack().aggregatorUrl().substr(7) + "\"} == 1";
  std::vector<std::string> problems;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  for (int round = 1;; ++round) {
    problems.clear();
    for (const auto* up : {&core_up, &agg_up})
      if (promQuery(prometheus, *up).second != 1) problems.push_back("not scraped yet: " + *up);
    for (const auto& q : queries) {
      auto [outcome, series] = promQuery(prometheus, q["expr"]);
      if (outcome != "success") problems.push_back(q["source"].get<std::string>() + ": invalid: " + outcome);
      else if (q["must_have_series"].get<bool>() && series == 0)
        problems.push_back(q["source"].get<std::string>() + ": no series: " + q["expr"].get<std::string>());
    }
    if (problems.empty() || std::chrono::steady_clock::now() > deadline) {
      std::cout << "[monitoring] " << queries.size() << " queries, round " << round << ": " << problems.size()
                << " still failing\n";
      break;
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));  // a scrape and a rule evaluation
  }
  for (const auto& p : problems) ADD_FAILURE() << p;
}

/// How many lines of the stack's log of `service` carry `needle`.
std::size_t logLinesWith(const std::string& service, const std::string& needle) {
  std::ifstream in(stack().logDir() + "/" + service + ".log");
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
  return n;
}

TEST(Tracing, OneQuotesTraceIdIsInEveryServicesLogItsEventsAndTheRequest) {
  const std::string trace = osago::randomHex(16);
  const std::string traceparent = "00-" + trace + "-" + osago::randomHex(8) + "-01";  // as the page sends it
  std::string token = login("tracing-user");
  auto created = httpJson("POST", stack().coreUrl() + "/api/osago/requests", quote(), token, {{"traceparent", traceparent}});
  ASSERT_EQ(created.status, 201) << created.body.dump();
  std::string id = created.body["osagoRequestId"];
  auto stored = waitFinal(id);
  EXPECT_EQ(stored["traceId"], trace) << "GET /osago/requests/{id} shows it";

  // Every event of the request carries it, on the topic as core-app reads it.
  long long last_seq = stored["lastSeq"];
  auto events = readKafkaEvents(stack().kafkaBrokers(), stack().topic(), id, static_cast<std::size_t>(last_seq),
                                std::chrono::seconds(30));
  ASSERT_EQ(events.size(), static_cast<std::size_t>(last_seq));
  for (const auto& e : events) EXPECT_EQ(e.value("traceId", ""), trace) << e.dump();

  // The log lines about it: core-app's forward, the aggregator's create, and the
  // partners', who got it as their request's traceparent (the simulator logs it).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (logLinesWith("insurer-simulator", trace) == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const std::string field = "\"traceId\":\"" + trace + "\"";
  EXPECT_GE(logLinesWith("core-app", field), 1u) << "core-app's log";
  EXPECT_GE(logLinesWith("osago-aggregator", field), 1u) << "the aggregator's log";
  EXPECT_GE(logLinesWith("insurer-simulator", "|" + trace + "]"), 3u) << "each partner's application (the simulator's text log)";
  // A different quote is another trace: the header of one request does not leak into the next.
  auto other = httpJson("POST", stack().coreUrl() + "/api/osago/requests", quote(), token);
  ASSERT_EQ(other.status, 201);
  auto other_stored = waitFinal(other.body["osagoRequestId"]);
  EXPECT_TRUE(osago::isTraceId(other_stored.value("traceId", ""))) << "a trace of its own";
  EXPECT_NE(other_stored["traceId"], trace);
}

TEST(Readiness, TheAggregatorIsNotReadyWithoutPostgreSQLAndIsAgainWhenItReturns) {
  const char* stop = std::getenv("OSAGO_TEST_PG_STOP");
  const char* start = std::getenv("OSAGO_TEST_PG_START");
  ASSERT_TRUE(stop && start) << "./osago test exports OSAGO_TEST_PG_STOP and OSAGO_TEST_PG_START";
  std::string url = stack().aggregatorUrl() + "/health/ready";
  auto ready = httpJson("GET", url);
  ASSERT_EQ(ready.status, 200) << ready.body.dump();
  EXPECT_EQ(ready.body["postgres"], "UP");
  EXPECT_EQ(ready.body["kafka"], "UP");
  EXPECT_GT(ready.body["usableCompanies"].get<int>(), 0);

  struct StartAgain {
    const char* command;
    ~StartAgain() {
      if (!command) return;
      int rc = std::system(command);
      (void)rc;
    }
  } guard{start};
  ASSERT_EQ(std::system(stop), 0);
  auto wait_for = [&](int status, std::chrono::seconds limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    JsonResponse r;
    do {
      r = httpJson("GET", url);
      if (r.status == status) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    } while (std::chrono::steady_clock::now() < until);
    return r;
  };
  auto down = wait_for(503, std::chrono::seconds(10));
  EXPECT_EQ(down.status, 503) << down.body.dump();
  EXPECT_EQ(down.body.value("postgres", "").rfind("DOWN", 0), 0u) << down.body.dump();
  EXPECT_EQ(down.body["kafka"], "UP");
  guard.command = nullptr;
  ASSERT_EQ(std::system(start), 0);
  auto up = wait_for(200, std::chrono::seconds(30));
  EXPECT_EQ(up.status, 200) << up.body.dump();
}

}  // namespace
