#include "streaming/event_hub.hpp"

#include <osago/common/metrics.hpp>

namespace osago::core {

bool EventHub::publish(const nlohmann::json& event) {
  static auto& consumed = metrics::counter("osago_core_events_consumed_total",
                                           "Quote events read from Kafka: new, or duplicate (dropped by eventId)");
  std::string event_id = event.value("eventId", "");
  if (!event_id.empty()) {
    std::lock_guard lock(mutex_);
    if (!seen_.insert(event_id).second) {
      consumed.Add({{"result", "duplicate"}}).Increment();
      return false;
    }
    seen_order_.push_back(event_id);
    if (seen_order_.size() > kRememberedEventIds) {
      seen_.erase(seen_order_.front());
      seen_order_.pop_front();
    }
  }
  consumed.Add({{"result", "new"}}).Increment();
  deliver_(event);
  return true;
}

}  // namespace osago::core
