#pragma once

#include "config/aggregator_config.hpp"
#include "store/quote_store.hpp"

#include <osago/common/background_thread.hpp>

namespace osago::host {

/// Keeps the tables from growing without end: every `sweep_interval` removes
/// finished requests older than the retention (and with them their companies,
/// idempotency keys and events) and events published to Kafka longer ago than
/// theirs, in batches of 1000 rows so that no sweep holds locks for long. Safe
/// on every instance at once (rows being removed elsewhere are skipped).
class RetentionSweeper {
 public:
  RetentionSweeper(QuoteStore& store, RetentionConfig config) : store_(store), config_(config) {}
  ~RetentionSweeper() { stop(); }
  void start();
  void stop() { thread_.stop(); }

 private:
  void sweep();

  QuoteStore& store_;
  RetentionConfig config_;
  BackgroundThread thread_;
};

}  // namespace osago::host
