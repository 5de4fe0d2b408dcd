#pragma once

#include "events/kafka_event_publisher.hpp"
#include "store/quote_store.hpp"

#include <osago/common/background_thread.hpp>

namespace osago::host {

/// Moves committed outbox rows to Kafka: claims unpublished rows (so several
/// instances never publish the same row at once), publishes them and marks
/// them published only after the broker acknowledged. Woken by wake() after a
/// local commit; also looks every `idle_interval` for rows of other instances.
class OutboxRelay {
 public:
  OutboxRelay(QuoteStore& store, KafkaEventPublisher& publisher,
              std::chrono::milliseconds idle_interval = std::chrono::milliseconds(500));
  ~OutboxRelay();

  void start();
  /// Publishes what is committed (best effort, bounded by a few seconds), then stops.
  void stop();
  void wake();

 private:
  void loop();

  QuoteStore& store_;
  KafkaEventPublisher& publisher_;
  std::chrono::milliseconds idle_interval_;
  BackgroundThread thread_;
};

}  // namespace osago::host
