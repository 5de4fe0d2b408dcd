#include "store/partner_health_store.hpp"

namespace osago::host {

void PartnerHealthStore::publish(const std::string& instance_id, const std::vector<PartnerHealthReport>& reports,
                                 std::chrono::seconds forget_after) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : reports)
    rows.push_back({{"company_id", r.company_id}, {"plugin_id", r.plugin_id}, {"report", r.report}});
  auto c = db_.acquire();
  c->query(
      "WITH incoming AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(company_id text, plugin_id text, report jsonb)), "
      "upsert AS ("
      "  INSERT INTO partner_health (instance_id, company_id, plugin_id, report, reported_at) "
      "  SELECT $1, company_id, plugin_id, report, now() FROM incoming "
      "  ON CONFLICT (instance_id, company_id) DO UPDATE SET plugin_id = EXCLUDED.plugin_id, report = EXCLUDED.report, "
      "    reported_at = now()) "
      "DELETE FROM partner_health WHERE (instance_id = $1 AND company_id NOT IN (SELECT company_id FROM incoming)) "
      "  OR reported_at < now() - make_interval(secs => $3::int)",
      instance_id, rows.dump(), static_cast<long long>(forget_after.count()));
}

std::vector<PartnerHealthReport> PartnerHealthStore::recent(std::chrono::seconds max_age) {
  auto c = db_.acquire();
  auto rows = c->query(
      "SELECT instance_id, company_id, plugin_id, report::text, "
      "  to_char(reported_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
      "  (extract(epoch FROM now() - reported_at) * 1000)::bigint "
      "FROM partner_health WHERE reported_at >= now() - make_interval(secs => $1::int) "
      "ORDER BY company_id, instance_id",
      static_cast<long long>(max_age.count()));
  std::vector<PartnerHealthReport> out;
  for (int i = 0; i < rows.rows(); ++i)
    out.push_back({rows.text(i, 0), rows.text(i, 1), rows.text(i, 2), nlohmann::json::parse(rows.text(i, 3)),
                   rows.text(i, 4), rows.int64(i, 5)});
  return out;
}

void PartnerHealthStore::withdraw(const std::string& instance_id) {
  auto c = db_.acquire();
  c->query("DELETE FROM partner_health WHERE instance_id = $1", instance_id);
}

}  // namespace osago::host
