// core-app's token buckets and the quote input filled from a saved profile.
#include "clients/client_info_client.hpp"
#include "resilience/rate_limiter.hpp"

#include <osago/common/http_server.hpp>

#include <gtest/gtest.h>

namespace {

using namespace osago::core;
using namespace std::chrono_literals;

TEST(RateLimiter, EachUserHasABurstThenARateAndOthersAreNotAffected) {
  RateLimiter limiter({/*user_per_second=*/2, /*user_burst=*/3, /*per_second=*/100, /*burst=*/100});
  RateLimiter::Clock::time_point t0{std::chrono::hours(1)};
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.admit("a", t0).allowed);
  auto refused = limiter.admit("a", t0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_FALSE(refused.global);
  EXPECT_EQ(refused.retry_after, 500ms) << "one token comes back every 500 ms at 2/s";
  EXPECT_TRUE(limiter.admit("b", t0).allowed) << "another user has a bucket of their own";
  EXPECT_TRUE(limiter.admit("a", t0 + 500ms).allowed);
  EXPECT_FALSE(limiter.admit("a", t0 + 500ms).allowed);
}

TEST(RateLimiter, TheGlobalLimitRefusesEveryoneOnceSpent) {
  RateLimiter limiter({100, 100, /*per_second=*/1, /*burst=*/2});
  RateLimiter::Clock::time_point t0{std::chrono::hours(1)};
  EXPECT_TRUE(limiter.admit("a", t0).allowed);
  EXPECT_TRUE(limiter.admit("b", t0).allowed);
  auto refused = limiter.admit("c", t0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_TRUE(refused.global);
  EXPECT_EQ(refused.retry_after, 1000ms);
}

TEST(FillFromProfile, TakesSavedDataAndKeepsWhatWasTyped) {
  nlohmann::json profile = {{"lastName", "Иванов"}, {"firstName", "Иван"}, {"birthDate", "1980-06-12"},
                            {"registrationRegion", "77"},
                            {"vehicles", {{{"id", "car"}, {"vin", "XTA21099043765439"}}}},
                            {"drivers", {{{"id", "me"}, {"licenseNumber", "345678"}}}}};
  auto filled = fillFromProfile({{"ownerFromProfile", true}, {"savedVehicleId", "car"}, {"savedDriverIds", {"me"}},
                                 {"vehicle", {{"vin", "typed"}}}},
                                profile);
  EXPECT_EQ(filled["owner"]["regionCode"], "77");
  EXPECT_FALSE(filled["owner"].contains("middleName")) << "none saved, none invented";
  EXPECT_EQ(filled["vehicle"]["vin"], "typed") << "what the user typed wins";
  EXPECT_EQ(filled["drivers"][0]["licenseNumber"], "345678");
  EXPECT_FALSE(filled["drivers"][0].contains("id"));
  EXPECT_FALSE(filled.contains("savedDriverIds"));
  EXPECT_TRUE(refersToProfile({{"savedVehicleId", "car"}}));
  EXPECT_FALSE(refersToProfile({{"vehicle", {}}}));
  try {
    fillFromProfile({{"savedDriverIds", {"me", "ghost"}}}, profile);
    FAIL() << "an unknown saved driver was accepted";
  } catch (const osago::http::HttpError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.fields()[0]["field"], "savedDriverIds[1]");
  }
}

}  // namespace
