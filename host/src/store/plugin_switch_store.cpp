#include "store/plugin_switch_store.hpp"

namespace osago::host {

std::map<std::string, bool> PluginSwitchStore::load() {
  auto c = db_.acquire();
  auto r = c->exec("SELECT plugin_id, enabled::text FROM plugin_switches");
  std::map<std::string, bool> out;
  for (int i = 0; i < r.rows(); ++i) out[r.text(i, 0)] = r.text(i, 1) == "true";
  return out;
}

bool PluginSwitchStore::ensure(const std::string& plugin_id, bool enabled, const std::string& by) {
  auto c = db_.acquire();
  // A no-op update on conflict makes RETURNING answer with the stored value either way.
  auto r = c->query("INSERT INTO plugin_switches (plugin_id, enabled, updated_by) VALUES ($1, $2::boolean, $3) "
                    "ON CONFLICT (plugin_id) DO UPDATE SET enabled = plugin_switches.enabled "
                    "RETURNING enabled::text",
                    plugin_id, enabled ? "true" : "false", by);
  return r.rows() == 1 && r.text(0, 0) == "true";
}

void PluginSwitchStore::set(const std::string& plugin_id, bool enabled, const std::string& by) {
  auto c = db_.acquire();
  c->query("INSERT INTO plugin_switches (plugin_id, enabled, updated_by) VALUES ($1, $2::boolean, $3) "
           "ON CONFLICT (plugin_id) DO UPDATE SET enabled = EXCLUDED.enabled, updated_by = EXCLUDED.updated_by, "
           "updated_at = now()",
           plugin_id, enabled ? "true" : "false", by);
}

}  // namespace osago::host
