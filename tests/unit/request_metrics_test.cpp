// The HTTP server's request metrics against a real server on loopback: each
// request counted once under its route's pattern (never its raw path), method
// and status class, timed, and out of flight when answered.
#include <osago/common/http_client.hpp>
#include <osago/common/http_server.hpp>
#include <osago/common/metrics.hpp>

#include "metric_series.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

using osago::testing::moved;
using osago::testing::seriesOf;

TEST(RequestMetrics, EachRequestIsCountedUnderItsRoutePatternMethodAndStatusClass) {
  auto* router = new osago::http::Router;
  router->add("GET", "/things/{id}", [](auto&, auto& resp, const auto& p) { osago::http::sendJson(resp, 200, {{"id", p.at("id")}}); });
  router->add("GET", "/busy", [](auto&, auto&, const auto&) { throw osago::http::HttpError(503, "BUSY", "busy"); });
  router->add("GET", "/bug", [](auto&, auto&, const auto&) { throw std::runtime_error("a bug"); });
  auto server = osago::http::makeServer(router, "127.0.0.1", 0, {});
  server->start();
  auto get = [&](const std::string& path, const std::string& method = "GET") {
    osago::http::ClientRequest r;
    r.method = method;
    r.url = "http://127.0.0.1:" + std::to_string(server->port()) + path;
    r.timeout = std::chrono::seconds(5);
    return osago::http::call(r).status;
  };
  auto counts = seriesOf("osago_http_requests_total");
  auto timed = seriesOf("osago_http_request_duration_seconds");

  EXPECT_EQ(get("/things/1"), 200);
  EXPECT_EQ(get("/things/2"), 200);
  EXPECT_EQ(get("/busy"), 503);
  EXPECT_EQ(get("/bug"), 500);
  EXPECT_EQ(get("/nothing/here"), 404);
  EXPECT_EQ(get("/things/1", "DELETE"), 405);
  // A request is counted just after its answer is sent: the client may read it first.
  const std::map<std::string, double> expected{{"method=GET,route=/things/{id},status=2xx", 2},
                                               {"method=GET,route=/busy,status=5xx", 1},
                                               {"method=GET,route=/bug,status=5xx", 1},
                                               {"method=any,route=unmatched,status=4xx", 2}};
  for (int i = 0; i < 500 && moved(counts, seriesOf("osago_http_requests_total")) != expected; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  server->stop();
  EXPECT_EQ(moved(counts, seriesOf("osago_http_requests_total")), expected);
  EXPECT_EQ(moved(timed, seriesOf("osago_http_request_duration_seconds")),
            (std::map<std::string, double>{{"method=GET,route=/things/{id}", 2},
                                           {"method=GET,route=/busy", 1},
                                           {"method=GET,route=/bug", 1},
                                           {"method=any,route=unmatched", 2}}));
  for (const auto& [series, value] : seriesOf("osago_http_requests_in_flight")) EXPECT_EQ(value, 0) << series;
  // Every class of a route exists from the start, so a rate of 5xx is 0, not absent.
  EXPECT_EQ(seriesOf("osago_http_requests_total").count("method=GET,route=/things/{id},status=5xx"), 1u);
}

}  // namespace

namespace {

TEST(ProcessMetrics, TheEndpointShowsThisProcess) {
  auto* router = new osago::http::Router;
  osago::metrics::addEndpoint(*router);
  auto server = osago::http::makeServer(router, "127.0.0.1", 0, {});
  server->start();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  osago::http::ClientRequest r;
  r.url = "http://127.0.0.1:" + std::to_string(server->port()) + "/metrics";
  r.timeout = std::chrono::seconds(5);
  std::string text = osago::http::call(r).body;
  server->stop();
  auto value = [&](const std::string& name) {
    auto at = text.find("\n" + name + " ");
    if (at == std::string::npos) {
      ADD_FAILURE() << name << " missing";
      return -1.0;
    }
    return std::stod(text.substr(at + name.size() + 2));
  };
  EXPECT_GE(value("process_threads"), 2);  // this one and the server's
  EXPECT_GT(value("process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(value("process_virtual_memory_bytes"), value("process_resident_memory_bytes"));
  EXPECT_GE(value("process_open_fds"), 3);
  EXPECT_GE(value("process_max_fds"), value("process_open_fds"));
  EXPECT_GE(value("process_cpu_seconds_total"), 0);
  double started = value("process_start_time_seconds");
  double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_LE(started, now + 1);
  EXPECT_GT(started, now - 3600) << "this test process started within the hour";
}

}  // namespace
