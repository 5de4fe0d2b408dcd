#pragma once

#include "plugins/insurer_adapter.hpp"
#include "scheduling/answer_times.hpp"
#include "store/quote_store.hpp"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>

namespace osago::host {

/// Polls placed by the company's answer times (quotes.poll_learning).
struct PollLearningConfig {
  bool enabled = true;
  /// The next poll goes where this share of the answers still to come is ready.
  double quantile = 0.5;
  /// Once answers are likely (past the first 2 % of them), polls at most this far apart.
  std::chrono::milliseconds max_gap{500};
  /// Answers observed (here and in the fleet) before they replace backoff.
  int min_samples = 20;
};

/// What is known when deciding when to ask again.
struct PollContext {
  int attempt = 1;                                       ///< 1-based: the re-poll about to be scheduled
  std::optional<std::chrono::milliseconds> retry_after;  ///< the partner's Retry-After
  std::optional<std::chrono::milliseconds> since_submit; ///< how long the partner has had the application
  const AnswerTimeDistribution* answer_times = nullptr;  ///< the company's, when known
};

/// When to ask a partner again. Thread-safe.
class PollPolicy {
 public:
  PollPolicy(std::chrono::milliseconds initial, std::chrono::milliseconds cap, PollLearningConfig learning = {},
             std::uint64_t seed = std::random_device{}());

  /// The delay before the next poll. With enough answer times known and the
  /// application not past their 99th percentile: the learned delay (learned()).
  /// Otherwise backoff: d = min(cap, initial·2^(attempt-1)), then "equal
  /// jitter" in [d/2, d]. A partner's Retry-After (clamped to [100 ms, cap]) is
  /// never undercut: it replaces backoff and is the least a learned delay is.
  std::chrono::milliseconds delay(const PollContext& ctx);

  /// Where the answer times say to ask next, as a delay from now: with t the
  /// time since submit and F the distribution, the time by which a share
  /// `quantile` of the answers still to come is ready, F⁻¹(F(t) + q·(1 − F(t))),
  /// but at most `max_gap` after max(t, F⁻¹(0.02)) and at least 100 ms away.
  /// Past F's 99th percentile (later than nearly every answer) it backs off from
  /// there: as long again as t is past it, at least max_gap, at most the cap.
  /// nullopt when learning is off or too few answers are known.
  std::optional<std::chrono::milliseconds> learned(const PollContext& ctx) const;

 private:
  std::chrono::milliseconds backoff(int attempt);

  std::chrono::milliseconds initial_;
  std::chrono::milliseconds cap_;
  PollLearningConfig learning_;
  std::mutex mutex_;
  std::mt19937_64 rng_;
};

/// What is known about the partner when deciding what to do next.
struct PartnerOutlook {
  bool retries_allowed = true;                           ///< the company's retry budget has tokens
  std::optional<std::chrono::milliseconds> p95_latency;  ///< of its recent calls, once settled
  std::optional<std::chrono::milliseconds> since_submit; ///< when the outcome came, how long the partner had had the application
  std::shared_ptr<const AnswerTimeDistribution> answer_times;  ///< the company's, own and fleet
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
