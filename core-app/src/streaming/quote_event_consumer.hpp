#pragma once

#include "streaming/event_hub.hpp"

#include <osago/common/background_thread.hpp>

#include <atomic>
#include <memory>
#include <string>

namespace RdKafka { class KafkaConsumer; class RebalanceCb; }

namespace osago::core {

/// Consumes the quote-events topic in a consumer group of its own (so every
/// core-app instance sees every event) and hands each event to the hub.
/// Starts from the latest offset: what a stream missed before it opened comes
/// from the aggregator's state, not from Kafka.
class QuoteEventConsumer {
 public:
  QuoteEventConsumer(const std::string& brokers, const std::string& topic, EventHub& hub);
  ~QuoteEventConsumer();

  void start();
  void stop();
  /// True once partitions are assigned, i.e. new events will be seen.
  bool ready() const { return assigned_; }

 private:
  class Rebalance;
  void loop();

  EventHub& hub_;
  std::unique_ptr<Rebalance> rebalance_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::atomic<bool> assigned_{false};
  BackgroundThread thread_;
};

}  // namespace osago::core
