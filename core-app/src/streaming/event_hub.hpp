#pragma once

#include <nlohmann/json.hpp>

#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_set>

namespace osago::core {

/// The door between Kafka and the streams: drops events already seen (by
/// eventId; Kafka delivers at least once) and hands every other one to
/// `deliver` (the StreamReactor). Thread-safe.
class EventHub {
 public:
  static constexpr std::size_t kRememberedEventIds = 100'000;
  using Deliver = std::function<void(const nlohmann::json& event)>;

  explicit EventHub(Deliver deliver) : deliver_(std::move(deliver)) {}

  /// Delivers `event` unless its eventId was seen among the last kRememberedEventIds; false if it was a duplicate.
  bool publish(const nlohmann::json& event);

 private:
  Deliver deliver_;
  std::mutex mutex_;
  std::unordered_set<std::string> seen_;
  std::deque<std::string> seen_order_;
};

}  // namespace osago::core
