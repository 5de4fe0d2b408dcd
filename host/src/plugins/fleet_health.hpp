#pragma once

#include "plugins/plugin_registry.hpp"
#include "store/partner_health_store.hpp"

#include <osago/common/background_thread.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace osago::host {

/// Publishes this instance's view of every ready company's health (breaker,
/// retry budget, bulkhead, latency, counters) to PostgreSQL every `period`,
/// so that GET /admin/partners shows the whole fleet; withdraws it on stop.
class FleetHealthReporter {
 public:
  /// Other instances' answer windows are learnt from while their reports are this fresh.
  static constexpr std::chrono::seconds kAnswerTimesMaxAge{30};

  FleetHealthReporter(const PluginRegistry& plugins, PartnerHealthStore& store, std::string instance_id,
                      std::chrono::milliseconds period = std::chrono::seconds(2));
  ~FleetHealthReporter();
  void start();
  void stop();

  /// This instance's reports, as published: every company that serves calls now,
  /// with its newest answer times ("answerWindow": [[lo, hi], ...] ms after submit).
  static std::vector<PartnerHealthReport> reportsOf(const HealthView& view, const std::string& instance_id);
  /// Gives each company of `view` the answer windows the other instances of
  /// `reports` published, and forgets those of instances no longer reporting.
  /// The reports are read as hostile input (answerWindowFrom).
  static void absorbAnswerTimes(const HealthView& view, const std::vector<PartnerHealthReport>& reports,
                                const std::string& instance_id);

 private:
  void loop();

  const PluginRegistry& plugins_;
  PartnerHealthStore& store_;
  std::string instance_id_;
  std::chrono::milliseconds period_;
  BackgroundThread thread_;
};

/// The fleet view of GET /admin/partners from every instance's recent reports:
/// per company the worst breaker state, summed occupancy and counters, the
/// highest p95, and each instance's own report.
nlohmann::json fleetView(const std::vector<PartnerHealthReport>& reports, std::chrono::seconds max_age);

}  // namespace osago::host
