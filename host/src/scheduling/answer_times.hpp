#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace osago::host {

/// When one answer of a company became ready, as far as the host can tell: some
/// time in [lo_ms, hi_ms] after the submit was recorded (lo: the previous call
/// still got "pending"; hi: this call got the answer).
struct AnswerInterval {
  long long lo_ms = 0;
  long long hi_ms = 0;
  friend bool operator==(const AnswerInterval& a, const AnswerInterval& b) { return a.lo_ms == b.lo_ms && a.hi_ms == b.hi_ms; }
};

/// The distribution of a company's answer times, estimated from observed
/// intervals (each says only "ready somewhere in [lo, hi]"): Turnbull's
/// self-consistent estimate on a grid of `kBinMs`. An interval's weight goes
/// where the other, narrower intervals say answers come, so the wide intervals
/// of sparse early polls ([0, first poll]) do not pull the estimate towards 0.
/// Mass is even within a bin, so the CDF is piecewise linear. Immutable.
class AnswerTimeDistribution {
 public:
  static constexpr long long kBinMs = 50;
  static constexpr int kIterations = 60;

  explicit AnswerTimeDistribution(const std::vector<AnswerInterval>& intervals);
  std::size_t samples() const { return samples_; }
  /// The share of answers ready within `ms` after submit (0 with no samples).
  double cdf(double ms) const;
  /// The smallest time by which a share `p` (0..1) of answers was ready (0 with no samples).
  double quantile(double p) const;

 private:
  std::size_t samples_ = 0;
  std::vector<double> mass_;    // per bin
  std::vector<double> before_;  // the mass of the bins before bin b (size bins + 1)
};

/// A company's recent answer times: this instance's own observations and the
/// windows other instances report through the fleet's health reports (the
/// "fleet's recent answer-time distribution"). Thread-safe.
class AnswerTimes {
 public:
  /// Own observations kept; the newest `kShared` of them are reported to the fleet.
  static constexpr std::size_t kCapacity = 256;
  static constexpr std::size_t kShared = 128;
  /// Answers later than this after submit are not answers to learn from (deadlines are at most minutes).
  static constexpr long long kMaxMs = 10 * 60 * 1000;

  /// Records an answer; an interval that is not one (negative, reversed, past kMaxMs) is ignored.
  void observe(AnswerInterval interval);
  /// This instance's newest `n` observations, oldest first.
  std::vector<AnswerInterval> own(std::size_t n) const;
  /// Replaces what instance `instance` reported (at most kShared intervals are kept).
  void setFleet(const std::string& instance, std::vector<AnswerInterval> intervals);
  /// Forgets the reports of instances not in `live`.
  void retainFleet(const std::set<std::string>& live);
  /// Own and fleet observations together; rebuilt at most every `refresh`.
  std::shared_ptr<const AnswerTimeDistribution> distribution(
      std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now(),
      std::chrono::milliseconds refresh = std::chrono::milliseconds(500));

 private:
  mutable std::mutex mutex_;
  std::deque<AnswerInterval> own_;
  std::map<std::string, std::vector<AnswerInterval>> fleet_;
  std::shared_ptr<const AnswerTimeDistribution> cached_;
  std::chrono::steady_clock::time_point built_at_{};
  bool changed_ = true;
};

/// A fleet report's "answerWindow" (an array of [lo, hi] pairs in ms), read as
/// hostile input: anything but pairs of integers 0 <= lo <= hi <= kMaxMs is
/// skipped, and at most kShared pairs are read.
template <class Json>
std::vector<AnswerInterval> answerWindowFrom(const Json& window) {
  std::vector<AnswerInterval> out;
  if (!window.is_array()) return out;
  for (const auto& pair : window) {
    if (out.size() >= AnswerTimes::kShared) break;
    if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number_integer() || !pair[1].is_number_integer()) continue;
    auto lo = pair[0].template get<long long>(), hi = pair[1].template get<long long>();
    if (lo < 0 || hi < lo || hi > AnswerTimes::kMaxMs) continue;
    out.push_back({lo, hi});
  }
  return out;
}

}  // namespace osago::host
