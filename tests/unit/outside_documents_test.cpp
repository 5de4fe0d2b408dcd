// What core-app reads from the topic and from client-info is checked before
// any field is read: a wrong type is skipped with a reason, never thrown.
#include "clients/client_info_client.hpp"
#include "streaming/quote_event_consumer.hpp"

#include <gtest/gtest.h>

namespace {

using nlohmann::json;
using osago::core::profileProblem;
using osago::core::quoteEventProblem;

json goodEvent() {
  return json::parse(R"({"v":1,"eventId":"7d2a08b6-54f3-41f3-92f0-bbda889f6172","type":"quote.company-status",
    "osagoRequestId":"8cc57448-c622-472f-a80c-399650811143","seq":7,"companyId":"severny-shchit",
    "companyName":"Северный щит","status":"COMPLETED","offer":{"premium":{"amount":"1.00","currency":"RUB"}},
    "requestStatus":"IN_PROGRESS","occurredAtMs":1795797660820})");
}

TEST(QuoteEvents, AWellFormedEventPasses) { EXPECT_FALSE(quoteEventProblem(goodEvent())); }

TEST(QuoteEvents, AWrongTypedFieldIsNamed) {
  EXPECT_EQ(*quoteEventProblem(json::parse(R"({"osagoRequestId":"x","eventId":1})")), "field 'seq' is missing (an integer is required)");
  auto with = [](const char* key, json value) {
    json e = goodEvent();
    e[key] = std::move(value);
    return quoteEventProblem(e);
  };
  EXPECT_EQ(*with("eventId", 1), "field 'eventId' must be a string");
  EXPECT_EQ(*with("seq", "7"), "field 'seq' must be an integer");
  EXPECT_EQ(*with("seq", 0), "field 'seq' must be at least 1");
  EXPECT_EQ(*with("osagoRequestId", nullptr), "field 'osagoRequestId' must be a string");
  EXPECT_EQ(*with("requestStatus", json::array()), "field 'requestStatus' must be a string");
  EXPECT_EQ(*with("offer", "cheap"), "field 'offer' must be an object");
  EXPECT_EQ(*with("osagoRequestId", std::string(100, 'x')), "field 'osagoRequestId' is longer than 64 bytes");
  EXPECT_EQ(*quoteEventProblem(json::array({1, 2})), "not a JSON object");
}

TEST(ClientInfoProfiles, WrongTypesAreNamedBeforeAnythingIsFilledIn) {
  EXPECT_FALSE(profileProblem(json::parse(R"({"lastName":"Иванов","vehicles":[{"id":"car-1","make":"Lada"}],"drivers":[]})")));
  EXPECT_EQ(*profileProblem(json::parse(R"({"lastName":5})")), "field 'lastName' must be a string");
  EXPECT_EQ(*profileProblem(json::parse(R"({"vehicles":{"id":"car-1"}})")), "field 'vehicles' must be a list");
  EXPECT_EQ(*profileProblem(json::parse(R"({"drivers":[{"id":"d1"},{"id":2}]})")), "field 'drivers[1].id' must be a string");
  EXPECT_EQ(*profileProblem(json::parse(R"({"drivers":["d1"]})")), "'drivers[0]' must be an object");
}

}  // namespace
