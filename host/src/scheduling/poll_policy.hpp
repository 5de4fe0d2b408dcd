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

/// The new state of a (request, company) after `outcome` at time `now`:
/// pending → poll again (never past the deadline); offer → COMPLETED;
/// declined → FAILED/DECLINED; a retryable failure of a poll, or of a submit
/// that never reached the partner → try again; any other failure → FAILED;
/// still pending at the deadline → TIMEOUT.
CompanyUpdate decideUpdate(const WorkItem& item, const PartnerOutcome& outcome,
                           std::chrono::system_clock::time_point now, PollPolicy& policy);

}  // namespace osago::host
