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

  /// Sends `events` and waits up to `timeout` for the broker's acknowledgements;
  /// returns the ids of the events the broker acknowledged.
  std::vector<long long> publish(const std::vector<OutboxEvent>& events, std::chrono::milliseconds timeout);

 private:
  class DeliveryReports;
  std::unique_ptr<DeliveryReports> reports_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::string topic_;
};

}  // namespace osago::host
