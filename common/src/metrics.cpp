#include <osago/common/metrics.hpp>

#include <prometheus/text_serializer.h>

#include <mutex>
#include <sstream>
#include <vector>

namespace osago::metrics {
namespace {

struct Hooks {
  std::mutex mutex;
  std::vector<std::function<void()>> list;
};

Hooks& hooks() {
  static Hooks h;
  return h;
}

}  // namespace

prometheus::Registry& registry() {
  static prometheus::Registry r;
  return r;
}

prometheus::Family<prometheus::Counter>& counter(const std::string& name, const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry());
}

prometheus::Family<prometheus::Gauge>& gauge(const std::string& name, const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry());
}

prometheus::Family<prometheus::Histogram>& histogram(const std::string& name, const std::string& help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry());
}

const prometheus::Histogram::BucketBoundaries& latencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries b = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                            1,     2.5,  5,     10,   20,  30,   60};
  return b;
}

const prometheus::Histogram::BucketBoundaries& requestBuckets() {
  static const prometheus::Histogram::BucketBoundaries b = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                            0.2,   0.5,    1,     2.5,  5,     10,   30};
  return b;
}

double breakerLevel(CircuitBreaker::State state) {
  switch (state) {
    case CircuitBreaker::State::kOpen: return 2;
    case CircuitBreaker::State::kHalfOpen: return 1;
    case CircuitBreaker::State::kClosed: return 0;
  }
  return 0;
}

void ScrapedGauges::set(const prometheus::Labels& labels, double value) {
  auto& gauge = family_.Add(labels);
  gauge.Set(value);
  live_[labels] = &gauge;
  seen_.insert(labels);
}

void ScrapedGauges::sweep() {
  for (auto it = live_.begin(); it != live_.end();) {
    if (seen_.count(it->first)) {
      ++it;
    } else {
      family_.Remove(it->second);
      it = live_.erase(it);
    }
  }
  seen_.clear();
}

void onScrape(std::function<void()> hook) {
  std::lock_guard lock(hooks().mutex);
  hooks().list.push_back(std::move(hook));
}

void addEndpoint(http::Router& router) {
  addProcessMetrics();
  router.add("GET", "/metrics", [](auto&, auto& response, const auto&) {
    {
      std::lock_guard lock(hooks().mutex);
      for (auto& hook : hooks().list) hook();
    }
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, registry().Collect());
    std::string text = out.str();
    response.setContentType("text/plain; version=0.0.4; charset=utf-8");
    response.setContentLength(static_cast<std::streamsize>(text.size()));
    response.send() << text;
  });
}

void countBarrier(const std::string& where) {
  static auto& f = counter("osago_unexpected_errors_total",
                           "Unexpected exceptions caught at the edge of a thread (a bug each; see the error log), by where");
  f.Add({{"where", where}}).Increment();
}

}  // namespace osago::metrics
