#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

namespace osago::core {

/// The inbox of one open stream. Thread-safe: the hub pushes, the stream pops.
class Subscription {
 public:
  explicit Subscription(std::string request_id) : request_id_(std::move(request_id)) {}

  void push(const nlohmann::json& event);
  /// Moves every queued event into `out`, waiting up to `timeout` for the first.
  bool waitPop(std::vector<nlohmann::json>& out, std::chrono::milliseconds timeout);
  const std::string& requestId() const { return request_id_; }

 private:
  std::string request_id_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<nlohmann::json> queue_;
};

/// Routes quote events consumed from Kafka to the streams of their request,
/// dropping events already seen (by eventId). Thread-safe.
class EventHub {
 public:
  static constexpr std::size_t kRememberedEventIds = 100'000;

  std::shared_ptr<Subscription> subscribe(const std::string& request_id);
  void unsubscribe(const std::shared_ptr<Subscription>& subscription);
  /// Delivers `event` to every stream of event["osagoRequestId"]; false if it was a duplicate.
  bool publish(const nlohmann::json& event);
  std::size_t openStreams() const;

 private:
  mutable std::mutex mutex_;
  std::multimap<std::string, std::shared_ptr<Subscription>> subscriptions_;
  std::unordered_set<std::string> seen_;
  std::deque<std::string> seen_order_;
};

}  // namespace osago::core
