#pragma once

#include "store/quote_store.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace RdKafka { class Producer; }

namespace osago::host {

/// Publishes outbox events to one Kafka topic with the idempotent producer
/// (acks=all, ordered), keyed by osagoRequestId so a request's events stay in
/// one partition. Not thread-safe: one relay thread owns it.
class KafkaEventPublisher {
 public:
  /// Throws osago::Error on a bad configuration.
  KafkaEventPublisher(const std::string& brokers, std::string topic);
  ~KafkaEventPublisher();

  /// Sends `events` and waits for every one's final delivery report — the
  /// broker's acknowledgement, or failure once kMessageTimeout has passed —
  /// so that nothing of this call stays queued in the producer to go out
  /// beside the copy a later call sends. Returns the ids the broker acknowledged.
  std::vector<long long> publish(const std::vector<OutboxEvent>& events);
  /// Whether a broker answers a metadata request within `timeout` (readiness).
  bool brokerReachable(std::chrono::milliseconds timeout);

  static constexpr std::chrono::milliseconds kMessageTimeout{10000};

 private:
  class DeliveryReports;
  std::unique_ptr<DeliveryReports> reports_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::string topic_;
};

}  // namespace osago::host
