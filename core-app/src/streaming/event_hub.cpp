#include "streaming/event_hub.hpp"

namespace osago::core {

bool EventHub::publish(const nlohmann::json& event) {
  std::string event_id = event.value("eventId", "");
  if (!event_id.empty()) {
    std::lock_guard lock(mutex_);
    if (!seen_.insert(event_id).second) return false;
    seen_order_.push_back(event_id);
    if (seen_order_.size() > kRememberedEventIds) {
      seen_.erase(seen_order_.front());
      seen_order_.pop_front();
    }
  }
  deliver_(event);
  return true;
}

}  // namespace osago::core
