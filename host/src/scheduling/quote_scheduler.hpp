#pragma once

#include "config/aggregator_config.hpp"
#include "scheduling/admission_control.hpp"
#include "plugins/plugin_registry.hpp"
#include "scheduling/poll_policy.hpp"
#include "store/quote_store.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <set>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace osago::host {

/// Works on due (request, company) items from PostgreSQL — quoting the
/// company, or buying its offer (a purchase: issue, then issue_poll, decided
/// by decidePurchase) — the same way: claims one under a
/// short lease (renewed while its call runs), calls the company's plugin
/// (submit, then poll with exponential backoff and jitter), and records the
/// result. All state lives in the database, so any instance may continue any
/// request; a dead instance's leases lapse within `lease` and others take its
/// work. One dispatcher thread per instance claims as many due items as there
/// are free workers and then sleeps until the next item comes due, wake() (a
/// NOTIFY of new work) or a worker frees up — at most a second. Thread-safe.
class QuoteScheduler {
 public:
  /// A (request, company) whose calls killed its plugin's worker this often, on
  /// any instances, ends FAILED/PLUGIN_CRASHED instead of being tried again.
  static constexpr int kMaxWorkerCrashes = 2;
  /// Claimed this often without an outcome recorded (every instance working on
  /// it died: an in-process plugin's crash), it is quarantined the same way.
  static constexpr int kMaxClaimsWithoutOutcome = 3;

  /// `on_change` runs after a change was committed (e.g. to wake the outbox
  /// relay). `lease_store` renews the leases: on connections of its own, so
  /// that workers busy with the pool cannot make leases lapse.
  QuoteScheduler(QuoteStore& store, QuoteStore& lease_store, PluginRegistry& plugins, QuotesConfig config,
                 PurchasesConfig purchases, std::string instance_id, std::function<void()> on_change);
  ~QuoteScheduler();

  /// Hooks for tests that need a thread held at one point (none in production).
  struct TestingKnobs {
    /// Runs in a worker between its check of "stopping or work queued" and its
    /// wait, holding the scheduler's mutex: the place a lost wake-up would hide.
    std::function<void()> worker_checked_before_wait;
  };
  /// Sets the knobs; before start() only.
  void setTestingKnobs(TestingKnobs knobs) { knobs_ = std::move(knobs); }

  /// Reports how late the claimed work is to `admission`; before start() only.
  void reportTo(AdmissionControl& admission) { admission_ = &admission; }

  void start();
  /// Stops claiming new work, hands back (releases the leases of) claimed work
  /// not yet started, and waits for the calls in flight to finish and be recorded.
  void stop();
  /// Tells the dispatcher that new work may be due now.
  void wake();

 private:
  void dispatchLoop();
  void workerLoop();
  void leaseKeeperLoop();
  void process(const WorkItem& item);
  void processPurchase(const WorkItem& item);
  /// The company's route, its switch re-read from PostgreSQL when this instance's copy says off.
  std::optional<CompanyRoute> currentRoute(const WorkItem& item, const std::string& tag);
  /// The outcome of a call whose input killed the plugin's worker, counted over every instance:
  /// quarantined (not retryable, message says so) at kMaxWorkerCrashes.
  bool quarantineAfterCrash(const WorkItem& item, const std::optional<CompanyRoute>& route, const std::string& tag,
                            std::string& message);
  /// Stores a result with `write`, trying again twice while the database is away;
  /// nullopt when it could not (the lease lapses and the call is repeated, never lost).
  std::optional<QuoteStore::Recorded> storeResult(const std::string& tag, const std::function<QuoteStore::Recorded()>& write);
  /// After a call: how long the partner has had the application (into `outlook`, for the next
  /// poll's timing) and, when the call brought the answer, when it became ready (into `health`).
  static void learnAnswerTime(const WorkItem& item, const PartnerOutcome& outcome, PartnerHealth& health,
                              PartnerOutlook& outlook);
  /// Metrics of a company that reached its final status (and of its request, if that completed it).
  /// Metrics, health counter and an error line for a quarantined item.
  static void countPurchase(const WorkItem& item, const PurchaseUpdate& update);
  static void countQuarantined(const WorkItem& item, const std::optional<CompanyRoute>& route, const char* reason);
  static void countFinal(const WorkItem& item, const CompanyUpdate& update, const QuoteStore::Recorded& recorded);

  QuoteStore& store_;
  QuoteStore& lease_store_;
  PluginRegistry& plugins_;
  QuotesConfig config_;
  PurchasesConfig purchases_;
  std::string instance_id_;
  std::function<void()> on_change_;
  std::atomic<bool> running_{false};
  std::mutex mutex_;                  // guards queue_, in_hand_, busy_, woken_, keeper_stop_
  std::condition_variable wake_;      // the dispatcher and the lease keeper wait here
  std::condition_variable work_ready_;  // workers wait here
  std::deque<WorkItem> queue_;        // claimed, not yet started
  std::set<LeaseKey> in_hand_;        // claimed and not yet recorded: their leases are renewed
  std::chrono::steady_clock::time_point purchases_look_at_{};  // when the dispatcher next claims due purchases
  int busy_ = 0;
  bool woken_ = false;
  bool keeper_stop_ = false;          // the lease keeper ends after the workers
  PollPolicy poll_policy_;
  TestingKnobs knobs_;
  AdmissionControl* admission_ = nullptr;
  std::vector<std::thread> workers_;
  std::thread dispatcher_;
  std::thread lease_keeper_;
};

}  // namespace osago::host
