#pragma once

#include "streaming/event_hub.hpp"

#include <osago/common/background_thread.hpp>
#include <osago/common/kafka_client.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace RdKafka { class KafkaConsumer; }

namespace osago::core {

/// What is wrong with an event read from the topic (docs/events.md), if
/// anything: the fields core-app uses must have their types. Such an event is
/// skipped, logged and counted, never delivered.
std::optional<std::string> quoteEventProblem(const nlohmann::json& event);

/// Reads every partition of the quote-events topic (so every core-app instance
/// sees every event) and hands each event to the hub. Partitions are assigned
/// directly, not through a consumer group: there is no coordinator to find and
/// no rebalance to wait for, so after a broker outage reading resumes as soon
/// as the broker is back. Starts from the latest offset: what a stream missed
/// before it opened comes from the aggregator's state, not from Kafka.
/// Partitions added to the topic later are picked up within 30 s, from their start.
class QuoteEventConsumer {
 public:
  QuoteEventConsumer(const kafka::ClientSettings& brokers, std::string topic, EventHub& hub);
  ~QuoteEventConsumer();

  void start();
  void stop();
  /// True once partitions are assigned, i.e. new events will be seen.
  bool ready() const { return assigned_; }

 private:
  void loop();
  /// Assigns partitions not yet read (the first time at their end, later ones from their start).
  void assignNewPartitions();
  /// Sets osago_core_kafka_consumer_lag per partition: the partition's end as
  /// the client last heard it from the broker, less the next offset to read.
  void reportLag();

  std::string topic_;
  EventHub& hub_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  int assigned_partitions_ = 0;
  std::vector<std::int64_t> next_offset_;  ///< per partition, after the last event read (-1: none read yet)
  std::atomic<bool> assigned_{false};
  BackgroundThread thread_;
};

}  // namespace osago::core
