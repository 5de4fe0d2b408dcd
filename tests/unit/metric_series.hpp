// Reading the process's metrics in unit tests: series by their labels, and what moved.
#pragma once

#include <osago/common/metrics.hpp>

#include <map>
#include <string>

namespace osago::testing {

/// Every series of `family_name` as "label=value,..." → value (a counter's, a gauge's, a histogram's sample count).
inline std::map<std::string, double> seriesOf(const std::string& family_name) {
  std::map<std::string, double> out;
  for (const auto& family : osago::metrics::registry().Collect()) {
    if (family.name != family_name) continue;
    for (const auto& m : family.metric) {
      std::string key;
      for (const auto& l : m.label) key += (key.empty() ? "" : ",") + l.name + "=" + l.value;
      out[key] = family.type == prometheus::MetricType::Counter     ? m.counter.value
                 : family.type == prometheus::MetricType::Histogram ? static_cast<double>(m.histogram.sample_count)
                                                                    : m.gauge.value;
    }
  }
  return out;
}

/// What changed between two readings of seriesOf (series that did not move are left out).
inline std::map<std::string, double> moved(const std::map<std::string, double>& before, const std::map<std::string, double>& after) {
  std::map<std::string, double> out;
  for (const auto& [k, v] : after) {
    auto it = before.find(k);
    double d = v - (it == before.end() ? 0 : it->second);
    if (d != 0) out[k] = d;
  }
  return out;
}

}  // namespace osago::testing
