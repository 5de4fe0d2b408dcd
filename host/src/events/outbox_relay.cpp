#include "events/outbox_relay.hpp"

#include <osago/common/errors.hpp>

#include <Poco/Logger.h>

#include <set>

namespace osago::host {

OutboxRelay::OutboxRelay(QuoteStore& store, KafkaEventPublisher& publisher, std::string owner,
                         std::chrono::milliseconds idle_interval)
    : store_(store), publisher_(publisher), owner_(std::move(owner)), idle_interval_(idle_interval) {}

OutboxRelay::~OutboxRelay() { stop(); }

void OutboxRelay::start() {
  thread_.start([this] { loop(); });
}

void OutboxRelay::stop() { thread_.stop(); }

void OutboxRelay::wake() { thread_.notify(); }

std::size_t OutboxRelay::round() {
  std::vector<OutboxEvent> events = store_.claimOutbox(owner_, kBatch, kClaimLease);
  if (events.empty()) return 0;
  std::vector<long long> acked = publisher_.publish(events);  // no transaction open meanwhile
  std::set<long long> done(acked.begin(), acked.end());
  std::vector<long long> unsent;
  for (const auto& e : events)
    if (!done.count(e.id)) unsent.push_back(e.id);
  store_.markPublished(acked);
  store_.releaseOutbox(owner_, unsent);  // the next round tries them again
  return acked.size();
}

void OutboxRelay::loop() {
  auto& log = Poco::Logger::get("events");
  bool stopping = false;
  while (true) {
    std::size_t published = 0;
    try {
      published = round();
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
