#include <osago/common/metrics.hpp>

#include <prometheus/registry.h>

#include <gtest/gtest.h>

namespace {

/// The series of `family_name` in `registry` as (label value of `label`, value).
std::map<std::string, double> series(prometheus::Registry& registry, const std::string& family_name,
                                     const std::string& label) {
  std::map<std::string, double> out;
  for (const auto& family : registry.Collect()) {
    if (family.name != family_name) continue;
    for (const auto& m : family.metric)
      for (const auto& l : m.label)
        if (l.name == label) out[l.value] = m.gauge.value;
  }
  return out;
}

TEST(ScrapedGauges, SeriesNotSetSinceTheLastSweepAreRemoved) {
  prometheus::Registry registry;
  auto& family = prometheus::BuildGauge().Name("t_breaker").Help("test").Register(registry);
  osago::metrics::ScrapedGauges gauges(family);

  gauges.set({{"company", "a"}}, 2);
  gauges.set({{"company", "b"}}, 0);
  gauges.sweep();
  EXPECT_EQ(series(registry, "t_breaker", "company"), (std::map<std::string, double>{{"a", 2}, {"b", 0}}));

  // The next scrape: company b's plugin was removed, a changed, c appeared.
  gauges.set({{"company", "a"}}, 1);
  gauges.set({{"company", "c"}}, 0);
  gauges.sweep();
  EXPECT_EQ(series(registry, "t_breaker", "company"), (std::map<std::string, double>{{"a", 1}, {"c", 0}}));

  gauges.sweep();  // nothing set: nothing left
  EXPECT_TRUE(series(registry, "t_breaker", "company").empty());
}

}  // namespace
