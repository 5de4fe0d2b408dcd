#include "events/outbox_relay.hpp"

#include <osago/common/errors.hpp>

#include <Poco/Logger.h>

namespace osago::host {

OutboxRelay::OutboxRelay(QuoteStore& store, KafkaEventPublisher& publisher, std::chrono::milliseconds idle_interval)
    : store_(store), publisher_(publisher), idle_interval_(idle_interval) {}

OutboxRelay::~OutboxRelay() { stop(); }

void OutboxRelay::start() {
  running_ = true;
  thread_ = std::thread([this] { loop(); });
}

void OutboxRelay::stop() {
  if (!running_.exchange(false)) return;
  cv_.notify_all();
  thread_.join();
}

void OutboxRelay::wake() {
  {
    std::lock_guard lock(mutex_);
    pending_ = true;
  }
  cv_.notify_one();
}

void OutboxRelay::loop() {
  auto& log = Poco::Logger::get("events");
  auto publish = [this](const std::vector<OutboxEvent>& events) {
    return publisher_.publish(events, std::chrono::seconds(10));
  };
  bool stopping = false;
  while (true) {
    std::size_t published = 0;
    try {
      published = store_.publishOutbox(200, publish);
    } catch (const std::exception& e) {
      log.error(std::string("outbox relay: ") + errorText(e));
    }
    if (stopping) break;
    if (!running_) {
      stopping = true;  // one last round to flush what was committed
      continue;
    }
    if (published > 0) continue;  // there may be more
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, idle_interval_, [this] { return pending_ || !running_; });
    pending_ = false;
  }
}

}  // namespace osago::host
