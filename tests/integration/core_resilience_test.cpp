// core-app's own protection: saved data from client-info (which may hang),
// circuit breakers and short timeouts on its dependencies, and rate limits —
// against the real binaries.
#include "flow_helpers.hpp"

#include <osago/common/civil_date.hpp>
#include <osago/common/ids.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace {

using namespace osago::testing;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

json policy() {
  return {{"startDate", osago::CivilDate::todayUtc().plusDays(10).toString()}, {"usageMonths", 12}, {"multidrive", false}};
}

/// A create that asks core-app to take the owner, the car and the drivers from the saved profile.
json fromProfile() {
  return {{"ownerFromProfile", true}, {"savedVehicleId", "camry"}, {"savedDriverIds", {"self", "maria"}}, {"policy", policy()}};
}

void clientInfoMode(const std::string& mode) {
  ASSERT_EQ(httpJson("PUT", stack().clientInfoUrl() + "/control/mode", {{"mode", mode}}).status, 200);
}

std::string clientInfoBreaker() {
  return httpJson("GET", stack().coreUrl() + "/health/ready").body.value("clientInfoBreaker", "");
}

TEST(ClientInfo, SavedOwnerCarAndDriversFillTheQuote) {
  std::string token = login("demo");
  auto profile = httpJson("GET", stack().coreUrl() + "/api/profile", nullptr, token);
  ASSERT_EQ(profile.status, 200) << profile.body.dump();
  EXPECT_EQ(profile.body["vehicles"][0]["id"], "camry");
  EXPECT_FALSE(profile.body.contains("userId"));

  auto created = httpJson("POST", stack().coreUrl() + "/api/osago/requests", fromProfile(), token);
  ASSERT_EQ(created.status, 201) << created.body.dump();
  // The premium proves which data were used: the same quote typed in full prices the same.
  json typed = {{"vehicle", {{"category", "B"}, {"make", "Toyota"}, {"model", "Camry"}, {"year", 2020}, {"enginePowerHp", 150},
                             {"vin", "XTA21099043765439"}, {"plate", "А123ВЕ777"}}},
                {"owner", {{"lastName", "Иванов"}, {"firstName", "Иван"}, {"middleName", "Иванович"},
                           {"birthDate", "1980-06-12"}, {"regionCode", "77"}}},
                {"drivers", {{{"lastName", "Иванов"}, {"firstName", "Иван"}, {"birthDate", "1980-06-12"},
                              {"licenseSeries", "7712"}, {"licenseNumber", "345678"}, {"experienceStartDate", "2005-05-20"}},
                             {{"lastName", "Иванова"}, {"firstName", "Мария"}, {"birthDate", "1984-02-03"},
                              {"licenseSeries", "7715"}, {"licenseNumber", "112233"}, {"experienceStartDate", "2008-09-01"}}}},
                {"policy", policy()}};
  auto final_view = byCompany(waitFinal(created.body["osagoRequestId"])["insuranceCompanies"]);
  ASSERT_EQ(final_view["severny-shchit"]["status"], "COMPLETED") << final_view["severny-shchit"].dump();
  EXPECT_EQ(final_view["severny-shchit"]["offer"]["premium"]["amount"], expectedPremium(typed, 650000));

  json unknown = fromProfile();
  unknown["savedVehicleId"] = "no-such-car";
  auto bad = httpJson("POST", stack().coreUrl() + "/api/osago/requests", unknown, token);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["fields"][0]["field"], "savedVehicleId") << bad.body.dump();
}

TEST(ClientInfo, AHangingClientInfoNeverHangsACreateAndItsBreakerOpensThenCloses) {
  std::string token = login("demo");
  ASSERT_EQ(clientInfoBreaker(), "CLOSED");
  clientInfoMode("hang");
  // What the user typed in full needs no client-info: served as usual.
  auto typed = httpJson("POST", stack().coreUrl() + "/api/osago/requests", quote(), token);
  EXPECT_EQ(typed.status, 201) << typed.body.dump();
  // Saved data cannot be read: a clear error within the timeout budget (200 ms here), never a hang.
  for (int i = 0; i < 4; ++i) {
    auto started = Clock::now();
    auto r = httpJson("POST", stack().coreUrl() + "/api/osago/requests", fromProfile(), token);
    auto took = Clock::now() - started;
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.body["error"], "CLIENT_INFO_UNAVAILABLE") << r.body.dump();
    EXPECT_LT(took, std::chrono::seconds(2)) << "a create waited for a hanging client-info";
  }
  EXPECT_EQ(clientInfoBreaker(), "OPEN") << "3 of 3 failed calls open the breaker";
  clientInfoMode("normal");
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // open_ms: 1000, then one trial call
  auto recovered = httpJson("POST", stack().coreUrl() + "/api/osago/requests", fromProfile(), token);
  EXPECT_EQ(recovered.status, 201) << recovered.body.dump();
  EXPECT_EQ(clientInfoBreaker(), "CLOSED");
}

TEST(RateLimits, ABurstFromOneUserGets429sWhileAnotherUserIsServed) {
  std::string greedy = login("burst-user");
  std::string other = login("calm-user");
  // Limits here: 20 per second per user, bursts of 40.
  int limited = 0;
  std::string retry_after;
  for (int i = 0; i < 120; ++i) {
    auto r = httpJson("GET", stack().coreUrl() + "/api/osago/requests/" + osago::newUuid(), nullptr, greedy);
    if (r.status == 429) {
      ++limited;
      retry_after = r.retry_after;
      EXPECT_EQ(r.body["error"], "RATE_LIMITED");
    } else {
      EXPECT_EQ(r.status, 404);
    }
  }
  EXPECT_GT(limited, 0) << "120 calls at once from one user were all let through";
  EXPECT_FALSE(retry_after.empty());
  EXPECT_GE(std::stoi(retry_after.empty() ? "0" : retry_after), 1);
  EXPECT_EQ(httpJson("GET", stack().coreUrl() + "/api/osago/requests/" + osago::newUuid(), nullptr, other).status, 404)
      << "another user is not limited by the first one's burst";
}

}  // namespace
