#pragma once

#include "config/aggregator_config.hpp"
#include "plugins/plugin_registry.hpp"
#include "scheduling/poll_policy.hpp"
#include "store/quote_store.hpp"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace osago::host {

/// Works on due (request, company) items from PostgreSQL: claims one under a
/// lease, calls the company's plugin (submit, then poll with exponential
/// backoff and jitter), and records the result. All state lives in the
/// database, so any instance may continue any request. Thread-safe.
class QuoteScheduler {
 public:
  /// `on_change` runs after a change was committed (e.g. to wake the outbox relay).
  QuoteScheduler(QuoteStore& store, const PluginRegistry& plugins, QuotesConfig config, std::string instance_id,
                 std::function<void()> on_change);
  ~QuoteScheduler();

  void start();
  /// Stops claiming new work and waits for calls in flight to finish.
  void stop();
  /// Tells idle workers that new work may be due now.
  void wake();

 private:
  void workerLoop();
  void process(const WorkItem& item);

  QuoteStore& store_;
  const PluginRegistry& plugins_;
  QuotesConfig config_;
  std::string instance_id_;
  std::function<void()> on_change_;
  std::atomic<bool> running_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  PollPolicy poll_policy_;
  std::vector<std::thread> workers_;
};

}  // namespace osago::host
