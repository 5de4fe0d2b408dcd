#include "streaming/event_hub.hpp"

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using nlohmann::json;

json event(const std::string& request, const std::string& id, int seq) {
  return {{"eventId", id}, {"osagoRequestId", request}, {"seq", seq}};
}

TEST(EventHub, DeliversOnlyToTheStreamsOfTheRequest) {
  osago::core::EventHub hub;
  auto a = hub.subscribe("req-a");
  auto b = hub.subscribe("req-b");
  EXPECT_TRUE(hub.publish(event("req-a", "e1", 1)));
  std::vector<json> got;
  EXPECT_TRUE(a->waitPop(got, 0ms));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["eventId"], "e1");
  got.clear();
  EXPECT_FALSE(b->waitPop(got, 0ms));
  EXPECT_TRUE(got.empty());
}

TEST(EventHub, DropsDuplicatesByEventId) {
  osago::core::EventHub hub;
  auto a = hub.subscribe("req-a");
  EXPECT_TRUE(hub.publish(event("req-a", "e1", 1)));
  EXPECT_FALSE(hub.publish(event("req-a", "e1", 1)));
  std::vector<json> got;
  a->waitPop(got, 0ms);
  EXPECT_EQ(got.size(), 1u);
}

TEST(EventHub, UnsubscribedStreamsGetNothing) {
  osago::core::EventHub hub;
  auto a = hub.subscribe("req-a");
  EXPECT_EQ(hub.openStreams(), 1u);
  hub.unsubscribe(a);
  EXPECT_EQ(hub.openStreams(), 0u);
  hub.publish(event("req-a", "e1", 1));
  std::vector<json> got;
  EXPECT_FALSE(a->waitPop(got, 0ms));
}

}  // namespace
