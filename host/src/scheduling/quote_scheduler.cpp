#include "scheduling/quote_scheduler.hpp"

#include <Poco/Logger.h>

#include <algorithm>

namespace osago::host {
namespace {

using Clock = std::chrono::system_clock;

nlohmann::json errorJson(const std::string& code, const std::string& message, const std::string& reason = {}) {
  nlohmann::json e{{"code", code}, {"message", message}};
  if (!reason.empty()) e["reason"] = reason;
  return e;
}

}  // namespace

QuoteScheduler::QuoteScheduler(QuoteStore& store, const PluginRegistry& plugins, QuotesConfig config,
                               std::string instance_id, std::function<void()> on_change)
    : store_(store), plugins_(plugins), config_(config), instance_id_(std::move(instance_id)),
      on_change_(std::move(on_change)) {}

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
  if (Clock::now() >= item.deadline) {
    outcome = PartnerOutcome::failed("DEADLINE_EXCEEDED", "no answer before the deadline");
  } else if (auto adapter = plugins_.adapter(item.company_id)) {
    CallContext ctx{item.correlation_id, item.deadline};
    outcome = item.external_id.empty() ? adapter->submit(ctx, item.input) : adapter->poll(ctx, item.external_id);
  } else {
    outcome = PartnerOutcome::failed("PLUGIN_UNAVAILABLE", plugins_.unavailableReason(item.company_id));
  }
  CompanyUpdate update = decide(item, outcome, Clock::now());
  if (outcome.kind == PartnerOutcome::Kind::Failed)
    log.warning(tag + outcome.code + ": " + outcome.message + (update.status == status::kInProgress ? " (will retry)" : ""));
  else
    log.debug(tag + update.status);
  try {
    if (!store_.record(item, update, instance_id_))
      log.warning(tag + "lease lost before the result was stored; another instance continues");
    else if (update.status != status::kInProgress)
      on_change_();
  } catch (const std::exception& e) {
    // The lease expires and the work is retried: the call is repeated, never lost.
    log.error(tag + "cannot store the result: " + e.what());
  }
}

CompanyUpdate QuoteScheduler::decide(const WorkItem& item, const PartnerOutcome& outcome, Clock::time_point now) {
  CompanyUpdate u;
  u.external_id = outcome.external_id.empty() ? item.external_id : outcome.external_id;
  u.attempts = item.attempts + 1;
  auto keep_polling = [&](std::optional<std::chrono::milliseconds> retry_after) {
    u.status = status::kInProgress;
    u.next_poll_at = std::min(now + backoff(u.attempts, retry_after), item.deadline);
  };
  switch (outcome.kind) {
    case PartnerOutcome::Kind::Pending:
      keep_polling(outcome.retry_after);
      break;
    case PartnerOutcome::Kind::Offer:
      u.status = status::kCompleted;
      u.offer = outcome.offer;
      break;
    case PartnerOutcome::Kind::Declined:
      u.status = status::kFailed;
      u.error = errorJson("DECLINED", outcome.message.empty() ? "the insurer declined" : outcome.message, outcome.code);
      break;
    case PartnerOutcome::Kind::Failed:
      if (outcome.code == "DEADLINE_EXCEEDED") {
        u.status = status::kTimeout;
        u.error = errorJson("DEADLINE_EXCEEDED", "the insurer did not answer within the deadline");
      } else if (outcome.retryable && !item.external_id.empty()) {
        keep_polling(outcome.retry_after);  // polling is idempotent: try again
      } else {
        // A failed submit is not retried: it is not idempotent for this partner.
        u.status = status::kFailed;
        u.error = errorJson(outcome.code, outcome.message);
      }
      break;
  }
  if (u.status == status::kInProgress && now >= item.deadline) {
    u.status = status::kTimeout;
    u.error = errorJson("DEADLINE_EXCEEDED", "the insurer did not answer within the deadline");
  }
  if (u.status == status::kInProgress) u.next_poll_at = std::max(u.next_poll_at, now);
  else u.next_poll_at = now;
  return u;
}

std::chrono::milliseconds QuoteScheduler::backoff(int attempt, std::optional<std::chrono::milliseconds> retry_after) {
  if (retry_after) return std::clamp(*retry_after, std::chrono::milliseconds(100), config_.poll_max);
  long long d = config_.poll_initial.count();
  for (int i = 1; i < attempt && d < config_.poll_max.count(); ++i) d *= 2;
  d = std::min<long long>(d, config_.poll_max.count());
  std::lock_guard lock(rng_mutex_);
  std::uniform_int_distribution<long long> jitter(0, d / 2);
  return std::chrono::milliseconds(d - d / 2 + jitter(rng_));
}

}  // namespace osago::host
