#include "scheduling/quote_scheduler.hpp"

#include "scheduling/purchase_policy.hpp"

#include <osago/common/civil_date.hpp>
#include <osago/common/errors.hpp>
#include <osago/common/metrics.hpp>
#include <osago/common/trace_context.hpp>

#include <Poco/Logger.h>

#include <algorithm>
#include <cctype>

namespace osago::host {

using Clock = std::chrono::system_clock;

namespace {

/// The reason label of a final status: "offer", or the error's code in lower case (our codes only, so bounded).
std::string finalReason(const CompanyUpdate& update) {
  if (update.status == CompanyStatus::kCompleted) return "offer";
  std::string code = update.error.is_object() ? update.error.value("code", "") : "";
  if (code.empty() || code.size() > 32) code = name(update.status);
  std::transform(code.begin(), code.end(), code.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return code;
}

/// How often the dispatcher counts the fleet's unclaimed due calls for admission control.
constexpr auto kDueCountPeriod = std::chrono::milliseconds(250);
/// An instance that reported partner health this recently counts as live.
constexpr auto kLiveInstance = std::chrono::seconds(10);
/// While it is busy, how often the dispatcher looks for due purchases besides quotes (idle, it
/// sleeps until the earliest is due; after wake(), it looks at once): their polls are seconds apart.
constexpr auto kPurchaseLook = std::chrono::milliseconds(500);
}  // namespace

QuoteScheduler::QuoteScheduler(QuoteStore& store, QuoteStore& lease_store, PluginRegistry& plugins, QuotesConfig config,
                               PurchasesConfig purchases, std::string instance_id, std::function<void()> on_change)
    : store_(store), lease_store_(lease_store), plugins_(plugins), config_(config), purchases_(purchases),
      instance_id_(std::move(instance_id)),
      on_change_(std::move(on_change)), poll_policy_(config_.poll_initial, config_.poll_max, config_.poll_learning) {}

QuoteScheduler::~QuoteScheduler() { stop(); }

void QuoteScheduler::start() {
  running_ = true;
  for (int i = 0; i < config_.workers; ++i) workers_.emplace_back([this] { workerLoop(); });
  dispatcher_ = std::thread([this] { dispatchLoop(); });
  lease_keeper_ = std::thread([this] { leaseKeeperLoop(); });
}

void QuoteScheduler::stop() {
  {
    // Under the mutex the workers and the dispatcher wait with: one that has just
    // found running_ true and is about to wait cannot miss the notify below.
    std::lock_guard lock(mutex_);
    if (!running_.exchange(false)) return;
  }
  wake_.notify_all();
  work_ready_.notify_all();
  dispatcher_.join();  // no more claims
  // Work claimed but not started is handed back at once (other instances claim
  // it within their next look, at most a second) instead of when its leases lapse.
  std::vector<LeaseKey> unstarted;
  {
    std::lock_guard lock(mutex_);
    for (const auto& item : queue_) {
      unstarted.push_back(leaseKey(item));
      in_hand_.erase(leaseKey(item));
    }
    queue_.clear();
  }
  auto& log = Poco::Logger::get("scheduler");
  try {
    auto released = store_.releaseLeases(instance_id_, unstarted);
    if (!unstarted.empty()) log.information("stopping: handed back " + std::to_string(released) + " claimed calls not yet started");
  } catch (const std::exception& e) {
    log.warning("stopping: cannot hand back " + std::to_string(unstarted.size()) +
                " claimed calls; their leases lapse instead: " + errorText(e));
  }
  for (auto& t : workers_) t.join();  // they finish the calls in flight
  workers_.clear();
  {
    std::lock_guard lock(mutex_);
    keeper_stop_ = true;
  }
  wake_.notify_all();
  lease_keeper_.join();
}

void QuoteScheduler::leaseKeeperLoop() {
  auto& log = Poco::Logger::get("scheduler");
  auto period = std::chrono::duration_cast<std::chrono::milliseconds>(config_.lease) / 3;
  // Runs on after stop() began, until the workers' last calls are recorded:
  // a call finishing during the stop keeps its lease, so no one repeats it.
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, period, [this] { return keeper_stop_; });
      if (keeper_stop_) return;
    }
    std::vector<LeaseKey> items;
    {
      std::lock_guard lock(mutex_);
      items.assign(in_hand_.begin(), in_hand_.end());
    }
    try {
      lease_store_.renewLeases(instance_id_, items, config_.lease);
    } catch (const std::exception& e) {
      log.warning(std::string("cannot renew leases: ") + errorText(e));
    }
  }
}

void QuoteScheduler::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
    purchases_look_at_ = {};  // a new purchase may be among the new work
  }
  wake_.notify_all();
}

void QuoteScheduler::dispatchLoop() {
  // One thread per instance asks the database for due work, as much as there
  // are free workers, and sleeps until the next item comes due, new work is
  // announced (wake()), or a worker frees up; never longer than a second.
  auto& log = Poco::Logger::get("scheduler");
  auto counted_due_at = std::chrono::steady_clock::time_point{};
  while (running_) {
    int free = 0;
    bool look_for_purchases = false;
    {
      std::unique_lock lock(mutex_);
      auto free_slots = [this] { return config_.workers - busy_ - static_cast<int>(queue_.size()); };
      wake_.wait(lock, [&] { return !running_ || free_slots() > 0; });
      if (!running_) break;
      // Under load workers free up one at a time; a claim for each would cost a
      // query per partner call. Wait a few ms for a quarter of them instead.
      int batch = std::max(1, config_.workers / 4);
      wake_.wait_for(lock, std::chrono::milliseconds(5), [&] { return !running_ || free_slots() >= batch; });
      if (!running_) break;
      free = free_slots();
      woken_ = false;
      auto now = std::chrono::steady_clock::now();
      look_for_purchases = now >= purchases_look_at_;
      if (look_for_purchases) purchases_look_at_ = now + kPurchaseLook;
    }
    std::vector<WorkItem> items;
    auto sleep = std::chrono::milliseconds(1000);
    try {
      if (look_for_purchases) {
        // Purchases take at most a quarter of the free workers: quotes are the bulk of the work.
        items = store_.claimDuePurchases(instance_id_, std::max(1, free / 4), config_.lease);
        free -= static_cast<int>(items.size());
        if (!items.empty()) {
          std::lock_guard lock(mutex_);
          purchases_look_at_ = {};  // maybe more are due
        }
      }
      auto quotes = free > 0 ? store_.claimDue(instance_id_, free, config_.lease) : std::vector<WorkItem>{};
      if (admission_) {
        // Claimed longest-waiting first: the longest wait among them is the backlog.
        auto overdue = std::chrono::milliseconds(0);
        for (const auto& item : quotes) overdue = std::max(overdue, item.overdue);
        auto now = std::chrono::steady_clock::now();
        admission_->observeClaim(overdue, static_cast<int>(quotes.size()) == free, now);
        if (now - counted_due_at >= kDueCountPeriod) {
          counted_due_at = now;
          try {
            auto due = store_.dueBacklog(kLiveInstance);
            admission_->observeDue(due.due, due.instances, now);
          } catch (const std::exception& e) {
            // The claimed items are kept; without a fresh count the prediction lapses (kDueMemory).
            log.warning(std::string("cannot count the due calls for admission control: ") + errorText(e));
          }
        }
      }
      for (auto& item : quotes) items.push_back(std::move(item));
      if (items.empty()) {
        // Nothing due now: sleep until the earliest work of either kind comes due (at most a second).
        auto due = store_.nextDueIn();
        if (due.quotes) sleep = std::clamp(*due.quotes, std::chrono::milliseconds(2), sleep);
        auto purchase_due = std::min(due.purchases.value_or(sleep), sleep);
        sleep = std::max(std::min(sleep, purchase_due), std::chrono::milliseconds(2));
        std::lock_guard lock(mutex_);
        purchases_look_at_ = std::chrono::steady_clock::now() + purchase_due;
      }
    } catch (const std::exception& e) {
      log.error(std::string("cannot claim work (database unavailable?): ") + errorText(e));
    }
    std::unique_lock lock(mutex_);
    if (!items.empty()) {
      for (auto& item : items) {
        in_hand_.insert(leaseKey(item));
        queue_.push_back(std::move(item));
      }
      work_ready_.notify_all();
      continue;  // maybe more is due
    }
    wake_.wait_for(lock, sleep, [this] { return !running_ || woken_; });
  }
}

void QuoteScheduler::workerLoop() {
  while (true) {
    WorkItem item;
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [this] {
        bool ready = !running_ || !queue_.empty();
        if (knobs_.worker_checked_before_wait) knobs_.worker_checked_before_wait();
        return ready;
      });
      if (!running_) return;  // stopping: what is still queued is handed back by stop()
      item = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
    }
    auto started = std::chrono::steady_clock::now();
    try {
      process(item);
      if (admission_)
        admission_->observeCall(std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started));
    } catch (const std::exception& e) {
      // The edge of a worker thread: a bug in handling one item must not end the
      // instance; the item's lease lapses and it is taken again (or quarantined).
      metrics::countBarrier("aggregator.scheduler_worker");
      Poco::Logger::get("scheduler").error("request " + item.request_id + " company " + item.company_id +
                                           ": unexpected error (a bug): " + errorText(e));
    }
    {
      std::lock_guard lock(mutex_);
      --busy_;
      in_hand_.erase(leaseKey(item));
    }
    wake_.notify_all();  // the dispatcher may claim more
  }
}

void QuoteScheduler::process(const WorkItem& item) {
  if (item.purchase) return processPurchase(item);
  auto& log = Poco::Logger::get("scheduler");
  std::string tag = logTag(item.correlation_id, item.trace_id) + "request " + item.request_id + " company " + item.company_id + ": ";
  PartnerOutcome outcome;
  auto route = currentRoute(item, tag);
  PartnerOutlook outlook;
  if (route && route->adapter) {
    auto& health = route->adapter->health();
    outlook.retries_allowed = health.retry_budget.allowsRetry();
    // A call never takes longer than its budget (plus the executor's grace), and the
    // next one is at most poll_max away: further from the deadline than that, p95
    // cannot matter, so the window is not sorted on every call.
    auto horizon = config_.poll_max + route->adapter->company().call_timeout + std::chrono::seconds(1);
    if (item.deadline - Clock::now() < horizon)
      if (auto p95 = health.latency.settledPercentile(0.95)) outlook.p95_latency = std::chrono::milliseconds(*p95);
    if (config_.poll_learning.enabled) outlook.answer_times = health.answer_times.distribution();
  }
  if (Clock::now() >= item.deadline) {
    outcome = PartnerOutcome::failed(FailureCode::kDeadlineExceeded, "the insurer did not answer within the deadline");
  } else if (item.claims_without_outcome > kMaxClaimsWithoutOutcome) {
    // Every instance that took this work died before recording anything: with a
    // plugin in process, its input is the likely cause. It is not tried again.
    outcome = PartnerOutcome::failed(FailureCode::kPluginCrashed, "quarantined: claimed " + std::to_string(item.claims_without_outcome - 1) +
                                                           " times by instances that died before recording an outcome");
    countQuarantined(item, route, "claims_without_outcome");
  } else if (route && route->adapter && route->enabled && !callFitsBeforeDeadline(Clock::now(), item.deadline, outlook)) {
    // E.g. work that waited out an outage: a call that cannot finish in time only loads the partner.
    outcome = PartnerOutcome::failed(FailureCode::kDeadlineExceeded, "not enough time left for a call (the insurer's p95 latency is " +
                                                              std::to_string(outlook.p95_latency->count()) + " ms)");
  } else if (!route) {
    // Another instance listed this company: this one has not loaded its plugin yet. Look
    // again soon and leave the work to whoever can serve it; by the deadline it ends TIMEOUT.
    plugins_.rescanSoon();
    outcome = PartnerOutcome::notCalled(FailureCode::kPluginUnavailable, "no loaded plugin serves company " + item.company_id, true);
  } else if (!route->enabled) {
    outcome = PartnerOutcome::failed(FailureCode::kCompanyDisabled, "switched off by an operator (plugin " + route->plugin_id + ")");
  } else if (!route->adapter) {
    outcome = PartnerOutcome::failed(FailureCode::kPluginUnavailable, route->unavailable);
  } else {
    CallContext ctx{item.correlation_id, item.deadline, item.trace_id};
    outcome = item.external_id.empty() ? route->adapter->submit(ctx, item.input)
                                       : route->adapter->poll(ctx, item.external_id);
    learnAnswerTime(item, outcome, route->adapter->health(), outlook);
  }
  if (outcome.killed_worker && quarantineAfterCrash(item, route, tag, outcome.message)) outcome.retryable = false;
  CompanyUpdate update = decideUpdate(item, outcome, Clock::now(), poll_policy_, outlook);
  if (update.status == CompanyStatus::kCompleted && update.offer.is_object()) {
    // The host's own fields of an offer (docs/api.md): until when, and whether, it can be bought here.
    update.offer["validUntil"] = isoUtc(Clock::now() + purchases_.offer_validity);
    update.offer["purchasable"] = route && route->adapter && route->adapter->purchasable();
  }
  if (outcome.kind == PartnerOutcome::Kind::Failed)
    log.warning(tag + name(outcome.failure) + ": " + outcome.message + (update.status == CompanyStatus::kInProgress ? " (will retry)" : ""));
  else
    log.debug(tag + name(update.status));
  auto recorded = storeResult(tag, [&] { return store_.record(item, update, instance_id_); });
  if (recorded && recorded->stored && update.status != CompanyStatus::kInProgress) {
    countFinal(item, update, *recorded);
    on_change_();
  }
}

bool QuoteScheduler::quarantineAfterCrash(const WorkItem& item, const std::optional<CompanyRoute>& route,
                                          const std::string& tag, std::string& message) {
  // Counted in PostgreSQL, so the limit holds over every instance.
  int crashes = item.worker_crashes + 1;
  try {
    crashes = store_.countWorkerCrash(item, instance_id_);
  } catch (const std::exception& e) {
    Poco::Logger::get("scheduler").warning(tag + "cannot count the worker crash: " + errorText(e));
  }
  if (crashes < kMaxWorkerCrashes) return false;
  message = "quarantined: its calls killed the plugin's worker " + std::to_string(crashes) +
            " times; it is not tried again (last: " + message + ")";
  countQuarantined(item, route, "worker_crashes");
  return true;
}

std::optional<QuoteStore::Recorded> QuoteScheduler::storeResult(const std::string& tag,
                                                                const std::function<QuoteStore::Recorded()>& write) {
  auto& log = Poco::Logger::get("scheduler");
  for (int attempt = 1;; ++attempt) {
    try {
      auto recorded = write();
      if (!recorded.stored) log.warning(tag + "lease lost before the result was stored; another instance continues");
      return recorded;
    } catch (const std::exception& e) {
      if (attempt == 3 || !running_) {
        // The lease expires and the work is taken again: the call is repeated, never lost.
        log.error(tag + "cannot store the result: " + errorText(e));
        return std::nullopt;
      }
      log.warning(tag + "storing the result failed, retrying: " + errorText(e));
      std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
    }
  }
}

std::optional<CompanyRoute> QuoteScheduler::currentRoute(const WorkItem& item, const std::string& tag) {
  auto route = plugins_.route(item.company_id);
  if (route && !route->enabled) {
    // This instance's copy of the switches is up to a second old (another instance may have
    // just switched the plugin on): read the stored switches before failing the work for good.
    try {
      plugins_.refreshSwitches();
      route = plugins_.route(item.company_id);
    } catch (const std::exception& e) {
      Poco::Logger::get("scheduler").warning(tag + "cannot re-read the plugin switches: " + errorText(e));
    }
  }
  return route;
}

void QuoteScheduler::processPurchase(const WorkItem& item) {
  auto& log = Poco::Logger::get("scheduler");
  std::string tag = logTag(item.correlation_id, item.trace_id) + "request " + item.request_id + " company " +
                    item.company_id + " purchase " + item.purchase->id + ": ";
  auto route = currentRoute(item, tag);
  PurchaseOutcome outcome;
  auto refuse = [&](FailureCode code, const std::string& message, bool retryable) {
    outcome.failure = code;
    outcome.message = message;
    outcome.retryable = retryable;
  };
  if (Clock::now() >= item.deadline) {
    refuse(FailureCode::kDeadlineExceeded, "the deadline passed", false);  // decidePurchase words it
  } else if (item.claims_without_outcome > kMaxClaimsWithoutOutcome) {
    refuse(FailureCode::kPluginCrashed, "quarantined: claimed " + std::to_string(item.claims_without_outcome - 1) +
                                            " times by instances that died before recording an outcome", false);
    countQuarantined(item, route, "claims_without_outcome");
  } else if (!route) {
    plugins_.rescanSoon();
    refuse(FailureCode::kPluginUnavailable, "no loaded plugin serves company " + item.company_id, true);
  } else if (!route->enabled) {
    refuse(FailureCode::kCompanyDisabled, "switched off by an operator (plugin " + route->plugin_id + ")", false);
  } else if (!route->adapter) {
    refuse(FailureCode::kPluginUnavailable, route->unavailable, true);
  } else {
    CallContext ctx{item.correlation_id, item.deadline, item.trace_id};
    outcome = item.external_id.empty() ? route->adapter->issue(ctx, item.input) : route->adapter->issuePoll(ctx, item.external_id);
    if (outcome.killed_worker && quarantineAfterCrash(item, route, tag, outcome.message)) outcome.retryable = false;
  }
  PurchaseUpdate update = decidePurchase(item, outcome, Clock::now(), purchases_);
  if (outcome.kind == PurchaseOutcome::Kind::Failed)
    log.warning(tag + name(outcome.failure) + ": " + outcome.message +
                (isFinal(update.status) ? "" : " (will retry)"));
  else if (update.status != item.purchase->status)
    log.information(tag + name(item.purchase->status) + " → " + name(update.status));
  else
    log.debug(tag + name(update.status));
  auto recorded = storeResult(tag, [&] { return store_.recordPurchase(item, update, instance_id_); });
  if (recorded && recorded->stored) {
    countPurchase(item, update);
    on_change_();
  }
}

void QuoteScheduler::learnAnswerTime(const WorkItem& item, const PartnerOutcome& outcome, PartnerHealth& health,
                                     PartnerOutlook& outlook) {
  using std::chrono::milliseconds;
  auto answered = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - item.claimed_at);
  bool pending = outcome.kind == PartnerOutcome::Kind::Pending;
  bool answer = outcome.kind == PartnerOutcome::Kind::Offer || outcome.kind == PartnerOutcome::Kind::Declined;
  if (item.external_id.empty()) {
    // A submit: the partner has had the application from now on; an answer right away is one at 0.
    if (pending) outlook.since_submit = milliseconds(0);
    if (answer) health.answer_times.observe({0, 0});
    return;
  }
  if (!item.since_submit) return;  // submitted before answer times were recorded
  auto since_submit = *item.since_submit + answered;
  // Only a "not yet" is timed by the answers; a failed call is retried with backoff.
  if (pending) outlook.since_submit = since_submit;
  // Ready after the previous call still found it pending, and by the time this one was answered.
  if (answer && item.since_last_call)
    health.answer_times.observe(
        {std::max<long long>(0, (*item.since_submit - *item.since_last_call).count()), since_submit.count()});
}

void QuoteScheduler::countPurchase(const WorkItem& item, const PurchaseUpdate& update) {
  static auto& states = metrics::counter(
      "osago_purchase_states_total",
      "Purchases reaching a state, by company and status (PENDING, PAYMENT, PAID, ISSUED, DECLINED, FAILED)");
  static auto& to_issued = metrics::histogram("osago_purchase_issued_seconds", "Time from a purchase's creation to its policy");
  if (update.status == item.purchase->status) return;
  states.Add({{"company", item.company_id}, {"status", name(update.status)}}).Increment();
  if (update.status == PurchaseStatus::kIssued)
    to_issued.Add({}, metrics::latencyBuckets())
        .Observe(std::chrono::duration<double>(std::chrono::system_clock::now() - item.created_at).count());
}

void QuoteScheduler::countQuarantined(const WorkItem& item, const std::optional<CompanyRoute>& route, const char* reason) {
  static auto& quarantined = metrics::counter(
      "osago_quote_quarantined_total",
      "(request, company) pairs quarantined instead of tried again, by company and reason (worker_crashes: its calls "
      "killed the plugin's worker twice; claims_without_outcome: instances died working on it)");
  quarantined.Add({{"company", item.company_id}, {"reason", reason}}).Increment();
  if (route && route->adapter) ++route->adapter->health().quarantined;
  Poco::Logger::get("scheduler").error(logTag(item.correlation_id, item.trace_id) + "request " + item.request_id + " company " +
                                       item.company_id + ": quarantined (" + reason + "); it is not tried again");
}

void QuoteScheduler::countFinal(const WorkItem& item, const CompanyUpdate& update, const QuoteStore::Recorded& recorded) {
  static auto& finals = metrics::counter(
      "osago_company_quotes_final_total",
      "Companies' final statuses in quote requests (COMPLETED = an offer, FAILED, TIMEOUT), with the reason: offer, "
      "declined (the insurer's own answer) or the failure code in lower case");
  static auto& to_offer = metrics::histogram("osago_quote_offer_seconds", "Time from a request's creation to each offer");
  static auto& to_first = metrics::histogram("osago_quote_first_offer_seconds",
                                             "Time from a request's creation to its first offer");
  static auto& to_final = metrics::histogram("osago_quote_request_final_seconds",
                                             "Time from a request's creation to its final status (every company final)");
  finals.Add({{"company", item.company_id}, {"status", name(update.status)}, {"reason", finalReason(update)}}).Increment();
  double age = std::chrono::duration<double>(std::chrono::system_clock::now() - item.created_at).count();
  if (update.status == CompanyStatus::kCompleted) to_offer.Add({}, metrics::latencyBuckets()).Observe(age);
  if (recorded.first_offer) to_first.Add({}, metrics::latencyBuckets()).Observe(age);
  if (recorded.request_completed) to_final.Add({}, metrics::latencyBuckets()).Observe(age);
}

}  // namespace osago::host
