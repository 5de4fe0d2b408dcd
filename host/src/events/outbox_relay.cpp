#include "events/outbox_relay.hpp"

#include <osago/common/errors.hpp>

#include <Poco/Logger.h>

namespace osago::host {

OutboxRelay::OutboxRelay(QuoteStore& store, KafkaEventPublisher& publisher, std::chrono::milliseconds idle_interval)
    : store_(store), publisher_(publisher), idle_interval_(idle_interval) {}

OutboxRelay::~OutboxRelay() { stop(); }

void OutboxRelay::start() {
  thread_.start([this] { loop(); });
}

void OutboxRelay::stop() { thread_.stop(); }

void OutboxRelay::wake() { thread_.notify(); }

void OutboxRelay::loop() {
  auto& log = Poco::Logger::get("events");
  auto publish = [this](const std::vector<OutboxEvent>& events) {
    return publisher_.publish(events);
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
    if (!thread_.running()) {
      stopping = true;  // one last round to flush what was committed
      continue;
    }
    if (published > 0) continue;  // there may be more
    thread_.waitFor(idle_interval_);
  }
}

}  // namespace osago::host
