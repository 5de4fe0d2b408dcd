#pragma once

#include "store/pg.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace osago::host {

/// One instance's report about one company.
struct PartnerHealthReport {
  std::string instance_id;
  std::string company_id;
  std::string plugin_id;
  nlohmann::json report;     ///< as in GET /admin/plugins: callsRunning, callsQueued, health
  std::string reported_at;   ///< ISO 8601 UTC (filled when read)
  long long age_ms = 0;      ///< how long ago (filled when read)
};

/// Every instance's view of partner health, shared through PostgreSQL.
/// Thread-safe; throws pg::Error.
class PartnerHealthStore {
 public:
  explicit PartnerHealthStore(pg::Pool& db) : db_(db) {}

  /// Replaces `instance_id`'s reports with `reports` (companies it no longer
  /// serves disappear) and removes reports nobody renewed for `forget_after`.
  void publish(const std::string& instance_id, const std::vector<PartnerHealthReport>& reports,
               std::chrono::seconds forget_after);
  /// Reports renewed within `max_age`, by company then instance.
  std::vector<PartnerHealthReport> recent(std::chrono::seconds max_age);
  /// Removes `instance_id`'s reports (at shutdown).
  void withdraw(const std::string& instance_id);

 private:
  pg::Pool& db_;
};

}  // namespace osago::host
