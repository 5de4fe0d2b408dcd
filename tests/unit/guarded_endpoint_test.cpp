// core-app's calls to its dependencies: each counted once by how it ended,
// the breaker's refusals included, and only the calls that went out timed.
#include "clients/guarded_endpoint.hpp"

#include "metric_series.hpp"

#include <gtest/gtest.h>

namespace {

using osago::core::CircuitOpenError;
using osago::core::GuardedEndpoint;
using osago::http::ClientError;
using osago::http::ClientResponse;
using osago::testing::moved;
using osago::testing::seriesOf;

TEST(GuardedEndpoint, EachCallIsCountedByHowItEnded) {
  osago::BreakerConfig breaker;
  breaker.window_calls = 4;
  breaker.minimum_calls = 4;
  breaker.failure_rate = 0.75;
  GuardedEndpoint endpoint("test-dependency", breaker);
  auto answer = [&](int status, std::string retry_after = "") {
    return endpoint.run([&] { return ClientResponse{status, "", "", retry_after, ""}; });
  };
  auto fail = [&](ClientError::Kind kind) {
    EXPECT_THROW(endpoint.run([&]() -> ClientResponse { throw ClientError(kind, "no answer"); }), ClientError);
  };
  auto counts = seriesOf("osago_core_client_requests_total");
  auto timed = seriesOf("osago_core_client_request_duration_seconds");

  answer(200);
  answer(404);
  answer(503, "1");  // shedding: the dependency is well, so no failure for the breaker
  answer(502);
  fail(ClientError::Kind::kTimedOut);
  fail(ClientError::Kind::kFailed);  // 3 failures of the last 4: open
  EXPECT_THROW(answer(200), CircuitOpenError);

  auto key = [](const char* outcome) { return std::string("dependency=test-dependency,outcome=") + outcome; };
  EXPECT_EQ(moved(counts, seriesOf("osago_core_client_requests_total")),
            (std::map<std::string, double>{{key("2xx"), 1},
                                           {key("4xx"), 1},
                                           {key("shed"), 1},
                                           {key("5xx"), 1},
                                           {key("timeout"), 1},
                                           {key("failed"), 1},
                                           {key("breaker_open"), 1}}));
  EXPECT_EQ(moved(timed, seriesOf("osago_core_client_request_duration_seconds")),
            (std::map<std::string, double>{{"dependency=test-dependency", 6}}))
      << "the refused call never went out";
  EXPECT_EQ(endpoint.state(), osago::CircuitBreaker::State::kOpen);
}

}  // namespace
