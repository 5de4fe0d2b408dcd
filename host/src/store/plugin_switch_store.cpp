#include "store/plugin_switch_store.hpp"

#include <Poco/Data/RecordSet.h>
#include <Poco/Data/Statement.h>

using namespace Poco::Data::Keywords;

namespace osago::host {

std::map<std::string, bool> PluginSwitchStore::load() {
  Poco::Data::Session s = db_.session();
  Poco::Data::Statement st(s);
  st << "SELECT plugin_id, CASE WHEN enabled THEN 1 ELSE 0 END FROM plugin_switches";
  st.execute();
  Poco::Data::RecordSet rs(st);
  std::map<std::string, bool> out;
  for (bool more = rs.moveFirst(); more; more = rs.moveNext()) out[rs[0].convert<std::string>()] = rs[1].convert<int>() == 1;
  return out;
}

bool PluginSwitchStore::ensure(const std::string& plugin_id, bool enabled, const std::string& by) {
  Poco::Data::Session s = db_.session();
  std::string id = plugin_id, who = by, flag = enabled ? "true" : "false";
  s << "INSERT INTO plugin_switches (plugin_id, enabled, updated_by) VALUES ($1, $2::boolean, $3) "
       "ON CONFLICT (plugin_id) DO NOTHING",
      use(id), use(flag), use(who), now;
  int stored = 0;
  s << "SELECT CASE WHEN enabled THEN 1 ELSE 0 END FROM plugin_switches WHERE plugin_id = $1", use(id), into(stored), now;
  return stored == 1;
}

void PluginSwitchStore::set(const std::string& plugin_id, bool enabled, const std::string& by) {
  Poco::Data::Session s = db_.session();
  std::string id = plugin_id, who = by, flag = enabled ? "true" : "false";
  s << "INSERT INTO plugin_switches (plugin_id, enabled, updated_by) VALUES ($1, $2::boolean, $3) "
       "ON CONFLICT (plugin_id) DO UPDATE SET enabled = EXCLUDED.enabled, updated_by = EXCLUDED.updated_by, "
       "updated_at = now()",
      use(id), use(flag), use(who), now;
}

}  // namespace osago::host
