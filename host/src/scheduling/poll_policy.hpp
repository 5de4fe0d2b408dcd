#pragma once

#include "plugins/insurer_adapter.hpp"
#include "store/quote_store.hpp"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>

namespace osago::host {

/// When to ask a partner again. Thread-safe.
class PollPolicy {
 public:
  PollPolicy(std::chrono::milliseconds initial, std::chrono::milliseconds cap,
             std::uint64_t seed = std::random_device{}());

  /// The delay before re-poll number `attempt` (1-based): d = min(cap, initial·2^(attempt-1)),
  /// then "equal jitter" in [d/2, d]. A partner's Retry-After wins, clamped to [100 ms, cap].
  std::chrono::milliseconds delay(int attempt, std::optional<std::chrono::milliseconds> retry_after);

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds cap_;
  std::mutex mutex_;
  std::mt19937_64 rng_;
};

/// What is known about the partner when deciding what to do next.
struct PartnerOutlook {
  bool retries_allowed = true;                           ///< the company's retry budget has tokens
  std::optional<std::chrono::milliseconds> p95_latency;  ///< of its recent calls, once settled
};

/// The new state of a (request, company) after `outcome` at time `now`:
/// pending → poll again; offer → COMPLETED; declined → FAILED/DECLINED; a
/// retryable failure of a poll, or of a submit that never reached the partner
/// → try again while the retry budget allows, else FAILED; any other failure
/// → FAILED. A next call that could not finish before the deadline (it would
/// start after it, or start so late that the partner's p95 latency overruns
/// it) is not made: TIMEOUT now instead of at the deadline.
CompanyUpdate decideUpdate(const WorkItem& item, const PartnerOutcome& outcome,
                           std::chrono::system_clock::time_point now, PollPolicy& policy,
                           const PartnerOutlook& outlook = {});

/// Whether a call started `now` is expected to finish before `deadline`
/// given the partner's p95 latency (always, while that is unknown).
bool callFitsBeforeDeadline(std::chrono::system_clock::time_point now, std::chrono::system_clock::time_point deadline,
                            const PartnerOutlook& outlook);

}  // namespace osago::host
