#pragma once

#include "config/aggregator_config.hpp"
#include "plugins/purchase_outcome.hpp"
#include "store/quote_store.hpp"

#include <chrono>

namespace osago::host {

/// The new state of a claimed purchase after `outcome` at time `now`
/// (docs/architecture.md, "Purchases"):
/// * PENDING, PAYMENT, PAID → that status, asked again after the partner's
///   retryAfterMs or, without one, `payment_poll` on the payment page and
///   backoff (poll_initial·2^(attempt−1), at most poll_max) otherwise; turning
///   PAID moves the deadline to at least now + paid_deadline (the buyer paid:
///   the policy is awaited, not given up on);
/// * ISSUED → ISSUED with the policy; DECLINED → DECLINED with the insurer's reason;
/// * a retryable failure (a timeout, a 5xx, a crash, nothing sent for a full
///   bulkhead or an open breaker), or any failure of a purchase already PAID
///   but a quarantine → the same status, asked again after backoff (issue is
///   sent again with the same purchaseId: partners take it as the idempotency
///   key); any other failure (NOT_PURCHASABLE among them) → FAILED with its code;
/// * past the deadline, anything but ISSUED or DECLINED → FAILED DEADLINE_EXCEEDED.
/// A next call is never placed after the deadline.
PurchaseUpdate decidePurchase(const WorkItem& item, const PurchaseOutcome& outcome, std::chrono::system_clock::time_point now,
                              const PurchasesConfig& config);

}  // namespace osago::host
