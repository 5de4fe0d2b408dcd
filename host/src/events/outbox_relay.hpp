#pragma once

#include "events/kafka_event_publisher.hpp"
#include "store/quote_store.hpp"

#include <osago/common/background_thread.hpp>

namespace osago::host {

/// Moves committed outbox rows to Kafka: claims unpublished rows under a
/// lease and commits the claim (so several instances never publish the same
/// row at once, and nothing stays locked while Kafka is slow), publishes them,
/// then marks published what the broker acknowledged and gives back the rest.
/// Woken by wake() after a local commit; also looks every `idle_interval` for
/// rows of other instances.
class OutboxRelay {
 public:
  /// A claim outlives the longest publish (the producer's message timeout and the report's way back).
  static constexpr std::chrono::seconds kClaimLease{30};
  static constexpr std::size_t kBatch = 200;

  OutboxRelay(QuoteStore& store, KafkaEventPublisher& publisher, std::string owner,
              std::chrono::milliseconds idle_interval = std::chrono::milliseconds(500));
  ~OutboxRelay();

  void start();
  /// Publishes what is committed (one last round, bounded by the publisher's report wait), then stops.
  void stop();
  void wake();

 private:
  void loop();
  std::size_t round();  // claim, publish, mark: how many were published

  QuoteStore& store_;
  KafkaEventPublisher& publisher_;
  std::string owner_;
  std::chrono::milliseconds idle_interval_;
  BackgroundThread thread_;
};

}  // namespace osago::host
