#include "scheduling/poll_policy.hpp"

#include <algorithm>
#include <cmath>

namespace osago::host {
PollPolicy::PollPolicy(std::chrono::milliseconds initial, std::chrono::milliseconds cap, PollLearningConfig learning,
                       std::uint64_t seed)
    : initial_(initial), cap_(cap), learning_(learning), rng_(seed) {}

std::chrono::milliseconds PollPolicy::delay(const PollContext& ctx) {
  std::optional<std::chrono::milliseconds> retry_after;
  if (ctx.retry_after) retry_after = std::clamp(*ctx.retry_after, std::chrono::milliseconds(100), cap_);
  if (auto d = learned(ctx)) return std::min(cap_, std::max(*d, retry_after.value_or(*d)));
  return retry_after ? *retry_after : backoff(ctx.attempt);
}

std::optional<std::chrono::milliseconds> PollPolicy::learned(const PollContext& ctx) const {
  if (!learning_.enabled || !ctx.answer_times || !ctx.since_submit) return std::nullopt;
  const auto& f = *ctx.answer_times;
  if (f.samples() < static_cast<std::size_t>(learning_.min_samples)) return std::nullopt;
  auto t = static_cast<double>(std::max<long long>(0, ctx.since_submit->count()));
  double passed = f.cdf(t);
  if (passed >= 0.99) {
    // Later than nearly every answer: back off, but from where the known answers end, not from
    // the attempt count (after many well-placed polls that would jump straight to the cap).
    auto known = f.quantile(0.99);
    auto beyond = std::llround(std::max(static_cast<double>(learning_.max_gap.count()), t - known));
    return std::chrono::milliseconds(std::min<long long>(beyond, cap_.count()));
  }
  double next = f.quantile(passed + learning_.quantile * (1 - passed));
  next = std::min(next, std::max(t, f.quantile(0.02)) + static_cast<double>(learning_.max_gap.count()));
  return std::chrono::milliseconds(std::max<long long>(100, std::llround(next - t)));
}

std::chrono::milliseconds PollPolicy::backoff(int attempt) {
  long long d = initial_.count();
  for (int i = 1; i < attempt && d < cap_.count(); ++i) d *= 2;
  d = std::min<long long>(d, cap_.count());
  std::lock_guard lock(mutex_);
  std::uniform_int_distribution<long long> jitter(0, d / 2);
  return std::chrono::milliseconds(d - d / 2 + jitter(rng_));
}

bool callFitsBeforeDeadline(std::chrono::system_clock::time_point now, std::chrono::system_clock::time_point deadline,
                            const PartnerOutlook& outlook) {
  return now + outlook.p95_latency.value_or(std::chrono::milliseconds(0)) < deadline;
}

CompanyUpdate decideUpdate(const WorkItem& item, const PartnerOutcome& outcome,
                           std::chrono::system_clock::time_point now, PollPolicy& policy, const PartnerOutlook& outlook) {
  CompanyUpdate u;
  u.external_id = outcome.external_id.empty() ? item.external_id : outcome.external_id;
  u.attempts = item.attempts + 1;
  std::string timeout_message = "the insurer did not answer within the deadline";
  auto keep_polling = [&](std::optional<std::chrono::milliseconds> retry_after) {
    u.status = CompanyStatus::kInProgress;
    u.next_poll_at = now + policy.delay({u.attempts, retry_after, outlook.since_submit, outlook.answer_times.get()});
    if (u.next_poll_at >= item.deadline) {
      u.status = CompanyStatus::kTimeout;
      timeout_message = "the insurer's next answer would come after the deadline";
    } else if (!callFitsBeforeDeadline(u.next_poll_at, item.deadline, outlook)) {
      u.status = CompanyStatus::kTimeout;
      timeout_message = "not enough time left for another call (the insurer's p95 latency is " +
                        std::to_string(outlook.p95_latency->count()) + " ms)";
    }
  };
  switch (outcome.kind) {
    case PartnerOutcome::Kind::Pending:
      keep_polling(outcome.retry_after);
      break;
    case PartnerOutcome::Kind::Offer:
      u.status = CompanyStatus::kCompleted;
      u.offer = outcome.offer;
      break;
    case PartnerOutcome::Kind::Declined:
      u.status = CompanyStatus::kFailed;
      u.error = companyError("DECLINED", outcome.message.empty() ? "the insurer declined" : outcome.message, outcome.decline_reason);
      break;
    case PartnerOutcome::Kind::Failed:
      if (outcome.failure == FailureCode::kDeadlineExceeded) {
        u.status = CompanyStatus::kTimeout;
        if (!outcome.message.empty()) timeout_message = outcome.message;
      } else if (outcome.retryable && (!item.external_id.empty() || !outcome.reached_partner)) {
        // Polling is idempotent, and a submit that never went out may be sent again;
        // but not while the partner keeps failing: the retry budget says when to stop.
        if (outlook.retries_allowed) {
          keep_polling(outcome.retry_after);
        } else {
          u.status = CompanyStatus::kFailed;
          u.error = companyError(name(outcome.failure), outcome.message + " (not retried: the company's retry budget is spent)");
        }
      } else {
        // A failed submit is not retried: it is not idempotent for this partner.
        u.status = CompanyStatus::kFailed;
        u.error = companyError(name(outcome.failure), outcome.message);
      }
      break;
  }
  if (u.status == CompanyStatus::kInProgress && now >= item.deadline) u.status = CompanyStatus::kTimeout;
  if (u.status == CompanyStatus::kTimeout) {
    u.offer = nullptr;
    u.error = companyError("DEADLINE_EXCEEDED", timeout_message);
  }
  u.next_poll_at = u.status == CompanyStatus::kInProgress ? std::max(u.next_poll_at, now) : now;
  return u;
}

}  // namespace osago::host
