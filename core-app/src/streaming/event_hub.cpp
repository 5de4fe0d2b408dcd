#include "streaming/event_hub.hpp"

namespace osago::core {

void Subscription::push(const nlohmann::json& event) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(event);
  }
  cv_.notify_one();
}

bool Subscription::waitPop(std::vector<nlohmann::json>& out, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!cv_.wait_for(lock, timeout, [this] { return !queue_.empty(); })) return false;
  while (!queue_.empty()) {
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return true;
}

std::shared_ptr<Subscription> EventHub::subscribe(const std::string& request_id) {
  auto sub = std::make_shared<Subscription>(request_id);
  std::lock_guard lock(mutex_);
  subscriptions_.emplace(request_id, sub);
  return sub;
}

void EventHub::unsubscribe(const std::shared_ptr<Subscription>& subscription) {
  std::lock_guard lock(mutex_);
  auto [begin, end] = subscriptions_.equal_range(subscription->requestId());
  for (auto it = begin; it != end; ++it) {
    if (it->second == subscription) {
      subscriptions_.erase(it);
      return;
    }
  }
}

bool EventHub::publish(const nlohmann::json& event) {
  std::string event_id = event.value("eventId", "");
  std::string request_id = event.value("osagoRequestId", "");
  std::vector<std::shared_ptr<Subscription>> targets;
  {
    std::lock_guard lock(mutex_);
    if (!event_id.empty()) {
      if (!seen_.insert(event_id).second) return false;
      seen_order_.push_back(event_id);
      if (seen_order_.size() > kRememberedEventIds) {
        seen_.erase(seen_order_.front());
        seen_order_.pop_front();
      }
    }
    auto [begin, end] = subscriptions_.equal_range(request_id);
    for (auto it = begin; it != end; ++it) targets.push_back(it->second);
  }
  for (auto& t : targets) t->push(event);
  return true;
}

std::size_t EventHub::openStreams() const {
  std::lock_guard lock(mutex_);
  return subscriptions_.size();
}

}  // namespace osago::core
