#include "scheduling/purchase_policy.hpp"

#include <osago/common/civil_date.hpp>

#include <algorithm>

namespace osago::host {

namespace {

std::chrono::milliseconds backoff(int attempt, const PurchasesConfig& config) {
  auto d = config.poll_initial;
  for (int i = 1; i < attempt && d < config.poll_max; ++i) d *= 2;
  return std::min(d, config.poll_max);
}

PurchaseStatus statusOf(PurchaseOutcome::Kind kind, PurchaseStatus current) {
  switch (kind) {
    case PurchaseOutcome::Kind::Pending: return PurchaseStatus::kPending;
    case PurchaseOutcome::Kind::Payment: return PurchaseStatus::kPayment;
    case PurchaseOutcome::Kind::Paid: return PurchaseStatus::kPaid;
    case PurchaseOutcome::Kind::Issued: return PurchaseStatus::kIssued;
    case PurchaseOutcome::Kind::Declined: return PurchaseStatus::kDeclined;
    case PurchaseOutcome::Kind::Failed: break;
  }
  return current;
}

}  // namespace

PurchaseUpdate decidePurchase(const WorkItem& item, const PurchaseOutcome& outcome, std::chrono::system_clock::time_point now,
                              const PurchasesConfig& config) {
  const PurchaseStatus current = item.purchase ? item.purchase->status : PurchaseStatus::kCreated;
  PurchaseUpdate u;
  u.status = current;
  u.external_id = outcome.external_id.empty() ? item.external_id : outcome.external_id;
  u.attempts = item.attempts + 1;
  u.next_poll_at = now;
  auto deadline = item.deadline;
  auto fail = [&](const std::string& code, const std::string& message) {
    u.status = PurchaseStatus::kFailed;
    u.error = companyError(code, message);
    return u;
  };

  bool ends = outcome.kind == PurchaseOutcome::Kind::Issued || outcome.kind == PurchaseOutcome::Kind::Declined;
  if (now >= deadline && !ends)
    return fail(name(FailureCode::kDeadlineExceeded),
                current == PurchaseStatus::kPaid
                    ? "paid, but the insurer did not issue the policy within the deadline: the insurer's support can tell more"
                    : "the insurer did not complete the purchase within the deadline");

  std::chrono::milliseconds wait{0};
  switch (outcome.kind) {
    case PurchaseOutcome::Kind::Issued:
      u.status = PurchaseStatus::kIssued;
      u.policy = {{"number", outcome.policy_number}};
      if (!outcome.policy_url.empty()) u.policy["url"] = outcome.policy_url;
      return u;
    case PurchaseOutcome::Kind::Declined:
      u.status = PurchaseStatus::kDeclined;
      u.error = companyError("DECLINED", outcome.message.empty() ? "the insurer declined to sell the policy" : outcome.message,
                             outcome.decline_reason);
      return u;
    case PurchaseOutcome::Kind::Payment:
      u.payment = {{"url", outcome.payment_url}};
      if (!outcome.draft_url.empty()) u.payment["draftUrl"] = outcome.draft_url;
      if (outcome.expires_at) u.payment["expiresAt"] = isoUtc(*outcome.expires_at);
      wait = config.payment_poll;
      break;
    case PurchaseOutcome::Kind::Paid:
      if (current != PurchaseStatus::kPaid) deadline = std::max(deadline, now + config.paid_deadline);
      [[fallthrough]];
    case PurchaseOutcome::Kind::Pending:
      wait = backoff(u.attempts, config);
      break;
    case PurchaseOutcome::Kind::Failed: {
      // A paid purchase is not given up on for an error — unless its input is quarantined for killing the worker.
      bool retry = outcome.retryable || (current == PurchaseStatus::kPaid && !outcome.killed_worker);
      if (!retry) return fail(name(outcome.failure), outcome.message);
      wait = backoff(u.attempts, config);
      break;
    }
  }
  u.status = statusOf(outcome.kind, current);
  if (outcome.retry_after) wait = std::max(wait, *outcome.retry_after);
  if (deadline != item.deadline) u.deadline = deadline;
  u.next_poll_at = std::min(now + wait, deadline);
  return u;
}

}  // namespace osago::host
