#pragma once

#include "store/pg.hpp"

#include <map>
#include <string>

namespace osago::host {

/// Whether each plugin is switched on, as stored in PostgreSQL so that every
/// instance agrees and the choice survives restarts. Thread-safe; throws
/// pg::Error when the database is unreachable.
class PluginSwitchStore {
 public:
  explicit PluginSwitchStore(pg::Pool& db) : db_(db) {}

  /// Every stored switch: plugin id → enabled.
  std::map<std::string, bool> load();
  /// Records a first-seen plugin with `enabled` unless a switch exists; returns the stored value.
  bool ensure(const std::string& plugin_id, bool enabled, const std::string& by);
  /// Sets the switch.
  void set(const std::string& plugin_id, bool enabled, const std::string& by);

 private:
  pg::Pool& db_;
};

}  // namespace osago::host
