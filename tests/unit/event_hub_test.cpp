#include "streaming/event_hub.hpp"

#include <gtest/gtest.h>

namespace {

using nlohmann::json;

json event(const std::string& request, const std::string& id, int seq) {
  return {{"eventId", id}, {"osagoRequestId", request}, {"seq", seq}};
}

TEST(EventHub, DeliversEachEventOnce) {
  std::vector<json> delivered;
  osago::core::EventHub hub([&](const json& e) { delivered.push_back(e); });
  EXPECT_TRUE(hub.publish(event("req-a", "e1", 1)));
  EXPECT_TRUE(hub.publish(event("req-b", "e2", 1)));
  EXPECT_FALSE(hub.publish(event("req-a", "e1", 1)));
  ASSERT_EQ(delivered.size(), 2u);
  EXPECT_EQ(delivered[0]["eventId"], "e1");
  EXPECT_EQ(delivered[1]["eventId"], "e2");
}

TEST(EventHub, ForgetsOnlyTheOldestIds) {
  std::size_t delivered = 0;
  osago::core::EventHub hub([&](const json&) { ++delivered; });
  const auto n = osago::core::EventHub::kRememberedEventIds;
  for (std::size_t i = 0; i <= n; ++i) hub.publish(event("r", "e" + std::to_string(i), 1));
  EXPECT_EQ(delivered, n + 1);
  EXPECT_FALSE(hub.publish(event("r", "e" + std::to_string(n), 1)));  // still remembered
  EXPECT_TRUE(hub.publish(event("r", "e0", 1)));                       // the oldest was forgotten
}

}  // namespace
