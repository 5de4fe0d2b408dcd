#pragma once

#include <osago/common/circuit_breaker.hpp>
#include <osago/common/http_server.hpp>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <map>
#include <set>
#include <string>

namespace osago::metrics {

/// The process's metrics (prometheus-cpp), exposed at GET /metrics. Families
/// are registered once by the component that owns them, usually as a
/// function-local static; series are added per label set. Thread-safe.
prometheus::Registry& registry();

prometheus::Family<prometheus::Counter>& counter(const std::string& name, const std::string& help);
prometheus::Family<prometheus::Gauge>& gauge(const std::string& name, const std::string& help);
prometheus::Family<prometheus::Histogram>& histogram(const std::string& name, const std::string& help);

/// Buckets in seconds for call and delivery latencies: 5 ms to 60 s.
const prometheus::Histogram::BucketBoundaries& latencyBuckets();

/// Buckets in seconds for request latencies: 1 ms to 30 s, with the bounds
/// the service levels are stated in (0.2 s: the create's p99, docs/operations.md).
const prometheus::Histogram::BucketBoundaries& requestBuckets();

/// A breaker state as a gauge value: 0 closed, 1 half-open, 2 open.
double breakerLevel(CircuitBreaker::State state);

/// Runs `hook` before every scrape: for gauges read from state that is
/// cheaper to look at when asked (breaker states, queue lengths) than to track.
void onScrape(std::function<void()> hook);

/// A gauge family whose series are read afresh in an onScrape hook: set()
/// each label set that exists now, then sweep() removes the series not set
/// since the previous sweep (e.g. the companies of a plugin that was removed),
/// instead of leaving their last value behind. For onScrape hooks, which run
/// one at a time.
class ScrapedGauges {
 public:
  explicit ScrapedGauges(prometheus::Family<prometheus::Gauge>& family) : family_(family) {}
  void set(const prometheus::Labels& labels, double value);
  void sweep();

 private:
  prometheus::Family<prometheus::Gauge>& family_;
  std::map<prometheus::Labels, prometheus::Gauge*> live_;
  std::set<prometheus::Labels> seen_;
};

/// Counts an unexpected exception caught by the catch-all barrier at the edge
/// of a thread (`where`: "aggregator.worker", "core-app.kafka_consumer", ...)
/// in osago_unexpected_errors_total: each one is a bug to look at, logged by the caller.
void countBarrier(const std::string& where);

/// The standard process_* metrics (CPU seconds, resident and virtual memory,
/// open and maximum descriptors, threads, start time), read from /proc at
/// each scrape. Once per process; addEndpoint() adds them.
void addProcessMetrics();

/// Adds GET /metrics (Prometheus text format 0.0.4) to `router`, with the process_* metrics.
void addEndpoint(http::Router& router);

}  // namespace osago::metrics
