#pragma once

#include "store/quote_store.hpp"

#include <osago/common/kafka_client.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace RdKafka { class Producer; }

namespace osago::host {

/// Publishes outbox events to one Kafka topic with the idempotent producer
/// (acks=all, ordered), keyed by osagoRequestId so a request's events stay in
/// one partition. Thread-safe: the relay thread publishes, readiness checks
/// ask brokerReachable() from HTTP threads.
class KafkaEventPublisher {
 public:
  /// Throws osago::Error on a bad configuration.
  /// `message_timeout`: how long librdkafka tries to deliver an event before
  /// it reports it failed; `report_wait`: how long publish() waits for the reports
  /// (more than the message timeout, so that every report normally comes in time).
  KafkaEventPublisher(const kafka::ClientSettings& brokers, std::string topic,
                      std::chrono::milliseconds message_timeout = kMessageTimeout,
                      std::chrono::milliseconds report_wait = kMessageTimeout + std::chrono::seconds(5));
  ~KafkaEventPublisher();

  /// Sends `events` and waits for every one's final delivery report — the
  /// broker's acknowledgement, or failure once the message timeout has passed —
  /// so that nothing of this call stays queued in the producer to go out
  /// beside the copy a later call sends; the wait ends after `report_wait` at
  /// the latest. Returns the ids of `events` the broker acknowledged in that
  /// time. Each message carries its own report state, shared with the batch
  /// it came in: a report that comes after its call returned (the wait ran
  /// out) lands in that finished batch and is dropped, never counted for a later one.
  std::vector<long long> publish(const std::vector<OutboxEvent>& events) { return publish(events, report_wait_); }
  std::vector<long long> publish(const std::vector<OutboxEvent>& events, std::chrono::milliseconds report_wait);
  /// Whether a broker answers a metadata request within `timeout` (readiness).
  bool brokerReachable(std::chrono::milliseconds timeout);

  static constexpr std::chrono::milliseconds kMessageTimeout{10000};

 private:
  class DeliveryReports;
  std::unique_ptr<DeliveryReports> reports_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::string topic_;
  std::chrono::milliseconds report_wait_;
};

}  // namespace osago::host
