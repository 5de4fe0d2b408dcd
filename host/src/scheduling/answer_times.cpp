#include "scheduling/answer_times.hpp"

#include <algorithm>

namespace osago::host {

AnswerTimeDistribution::AnswerTimeDistribution(const std::vector<AnswerInterval>& intervals) : samples_(intervals.size()) {
  if (intervals.empty()) return;
  struct Span {
    std::size_t from, to;  // bins, inclusive
  };
  std::vector<Span> spans;
  spans.reserve(intervals.size());
  std::size_t bins = 1;
  for (const auto& i : intervals) {
    Span s{static_cast<std::size_t>(std::max(0LL, i.lo_ms) / kBinMs), static_cast<std::size_t>(std::max(0LL, i.hi_ms) / kBinMs)};
    if (s.to < s.from) s.to = s.from;
    bins = std::max(bins, s.to + 1);
    spans.push_back(s);
  }
  const double n = static_cast<double>(spans.size());
  std::vector<double> weight(bins + 1);  // a difference array of each bin's factor
  auto spread = [&](auto&& share_of) {
    std::fill(weight.begin(), weight.end(), 0.0);
    for (const auto& s : spans) {
      double w = share_of(s);
      weight[s.from] += w;
      weight[s.to + 1] -= w;
    }
    double running = 0;
    for (std::size_t b = 0; b < bins; ++b) {
      running += weight[b];
      weight[b] = running;
    }
  };
  // Start from every interval's weight spread evenly over its bins.
  spread([&](const Span& s) { return 1.0 / (n * static_cast<double>(s.to - s.from + 1)); });
  mass_.assign(weight.begin(), weight.begin() + static_cast<long>(bins));
  before_.assign(bins + 1, 0.0);
  auto accumulate = [&] {
    for (std::size_t b = 0; b < bins; ++b) before_[b + 1] = before_[b] + mass_[b];
  };
  for (int iteration = 0; iteration < kIterations; ++iteration) {
    accumulate();
    // Each interval's weight, shared out in proportion to the current estimate within it.
    spread([&](const Span& s) {
      double within = before_[s.to + 1] - before_[s.from];
      return within > 0 ? 1.0 / (n * within) : 0.0;
    });
    for (std::size_t b = 0; b < bins; ++b) mass_[b] *= weight[b];
  }
  accumulate();
  double total = before_[bins];
  if (total <= 0) return;
  for (auto& m : mass_) m /= total;
  accumulate();
}

double AnswerTimeDistribution::cdf(double ms) const {
  if (mass_.empty() || ms <= 0) return 0;
  double at = ms / static_cast<double>(kBinMs);
  auto b = static_cast<std::size_t>(at);
  if (b >= mass_.size()) return 1;
  return std::min(1.0, before_[b] + mass_[b] * (at - static_cast<double>(b)));
}

double AnswerTimeDistribution::quantile(double p) const {
  if (mass_.empty()) return 0;
  p = std::clamp(p, 0.0, 1.0);
  // The first bin whose end reaches p.
  auto end = std::lower_bound(before_.begin() + 1, before_.end(), p);
  if (end == before_.end()) --end;
  auto b = static_cast<std::size_t>(end - before_.begin()) - 1;
  double frac = mass_[b] > 0 ? std::clamp((p - before_[b]) / mass_[b], 0.0, 1.0) : 0.0;
  return (static_cast<double>(b) + frac) * static_cast<double>(kBinMs);
}

void AnswerTimes::observe(AnswerInterval interval) {
  if (interval.lo_ms < 0 || interval.hi_ms < interval.lo_ms || interval.hi_ms > kMaxMs) return;
  std::lock_guard lock(mutex_);
  own_.push_back(interval);
  while (own_.size() > kCapacity) own_.pop_front();
  changed_ = true;
}

std::vector<AnswerInterval> AnswerTimes::own(std::size_t n) const {
  std::lock_guard lock(mutex_);
  auto from = own_.size() > n ? own_.size() - n : 0;
  return {own_.begin() + static_cast<long>(from), own_.end()};
}

void AnswerTimes::setFleet(const std::string& instance, std::vector<AnswerInterval> intervals) {
  if (intervals.size() > kShared) intervals.erase(intervals.begin(), intervals.end() - static_cast<long>(kShared));
  std::lock_guard lock(mutex_);
  auto& slot = fleet_[instance];
  if (slot == intervals) return;
  slot = std::move(intervals);
  changed_ = true;
}

void AnswerTimes::retainFleet(const std::set<std::string>& live) {
  std::lock_guard lock(mutex_);
  for (auto it = fleet_.begin(); it != fleet_.end();) {
    if (live.count(it->first)) {
      ++it;
    } else {
      it = fleet_.erase(it);
      changed_ = true;
    }
  }
}

std::shared_ptr<const AnswerTimeDistribution> AnswerTimes::distribution(std::chrono::steady_clock::time_point now,
                                                                        std::chrono::milliseconds refresh) {
  std::vector<AnswerInterval> all;
  {
    std::lock_guard lock(mutex_);
    if (cached_ && (!changed_ || now - built_at_ < refresh)) return cached_;
    all.assign(own_.begin(), own_.end());
    for (const auto& [instance, intervals] : fleet_) all.insert(all.end(), intervals.begin(), intervals.end());
    changed_ = false;
    built_at_ = now;
  }
  // Built outside the lock; two threads may both build one, and either result is right.
  auto built = std::make_shared<const AnswerTimeDistribution>(all);
  std::lock_guard lock(mutex_);
  cached_ = built;
  return built;
}

}  // namespace osago::host
