#include "scheduling/quote_scheduler.hpp"

#include <Poco/Logger.h>

namespace osago::host {

using Clock = std::chrono::system_clock;

QuoteScheduler::QuoteScheduler(QuoteStore& store, const PluginRegistry& plugins, QuotesConfig config,
                               std::string instance_id, std::function<void()> on_change)
    : store_(store), plugins_(plugins), config_(config), instance_id_(std::move(instance_id)),
      on_change_(std::move(on_change)), poll_policy_(config_.poll_initial, config_.poll_max) {}

QuoteScheduler::~QuoteScheduler() { stop(); }

void QuoteScheduler::start() {
  running_ = true;
  for (int i = 0; i < config_.workers; ++i) workers_.emplace_back([this] { workerLoop(); });
}

void QuoteScheduler::stop() {
  if (!running_.exchange(false)) return;
  wake_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

void QuoteScheduler::wake() { wake_.notify_all(); }

void QuoteScheduler::workerLoop() {
  auto& log = Poco::Logger::get("scheduler");
  while (running_) {
    std::vector<WorkItem> items;
    try {
      items = store_.claimDue(instance_id_, 1, config_.lease);
    } catch (const std::exception& e) {
      log.error(std::string("cannot claim work (database unavailable?): ") + e.what());
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::seconds(1), [this] { return !running_; });
      continue;
    }
    if (items.empty()) {
      // Nothing due: sleep until woken by a new request here, or look again shortly
      // for work created by other instances and for re-polls coming due.
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(200));
      continue;
    }
    for (const auto& item : items) process(item);
  }
}

void QuoteScheduler::process(const WorkItem& item) {
  auto& log = Poco::Logger::get("scheduler");
  std::string tag = "[" + item.correlation_id + "] request " + item.request_id + " company " + item.company_id + ": ";
  PartnerOutcome outcome;
  auto route = plugins_.route(item.company_id);
  if (Clock::now() >= item.deadline) {
    outcome = PartnerOutcome::failed("DEADLINE_EXCEEDED", "no answer before the deadline");
  } else if (!route) {
    outcome = PartnerOutcome::failed("PLUGIN_UNAVAILABLE", "no loaded plugin serves company " + item.company_id);
  } else if (!route->enabled) {
    outcome = PartnerOutcome::failed("COMPANY_DISABLED", "switched off by an operator (plugin " + route->plugin_id + ")");
  } else if (!route->adapter) {
    outcome = PartnerOutcome::failed("PLUGIN_UNAVAILABLE", route->unavailable);
  } else {
    CallContext ctx{item.correlation_id, item.deadline};
    outcome = item.external_id.empty() ? route->adapter->submit(ctx, item.input)
                                       : route->adapter->poll(ctx, item.external_id);
  }
  CompanyUpdate update = decideUpdate(item, outcome, Clock::now(), poll_policy_);
  if (outcome.kind == PartnerOutcome::Kind::Failed)
    log.warning(tag + outcome.code + ": " + outcome.message + (update.status == status::kInProgress ? " (will retry)" : ""));
  else
    log.debug(tag + update.status);
  for (int attempt = 1;; ++attempt) {
    try {
      if (!store_.record(item, update, instance_id_))
        log.warning(tag + "lease lost before the result was stored; another instance continues");
      else if (update.status != status::kInProgress)
        on_change_();
      return;
    } catch (const std::exception& e) {
      if (attempt == 3 || !running_) {
        // The lease expires and the work is taken again: the call is repeated, never lost.
        log.error(tag + "cannot store the result: " + e.what());
        return;
      }
      log.warning(tag + "storing the result failed, retrying: " + e.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
    }
  }
}

}  // namespace osago::host
