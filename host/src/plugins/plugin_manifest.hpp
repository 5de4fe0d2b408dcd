#pragma once

#include "resilience/partner_breaker.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace osago::host {

/// One insurance company served by a plugin, as its manifest declares it.
struct CompanyConfig {
  std::string id;                               ///< stable id used in the API and events
  std::string name;                             ///< shown to drivers
  std::string plugin;                           ///< plugin_id of the adapter that serves it (filled by the registry)
  std::chrono::milliseconds call_timeout{5000}; ///< budget of one submit/poll call, HTTP included
  int max_concurrent_calls = 8;                 ///< bulkhead: calls running at once
  int max_queued_calls = 32;                    ///< bulkhead: calls waiting for a thread
  nlohmann::json settings = nlohmann::json::object();  ///< passed to the plugin's create(); ${ENV} expanded
  std::map<std::string, std::string> secrets;   ///< name → value, resolved from the environment
  /// "host:port" the plugin's HTTP requests may go to: the hosts of every
  /// http(s) URL in `settings` and the manifest's `allowed_hosts`. Lower case.
  std::vector<std::string> allowed_hosts;
  BreakerConfig breaker;                        ///< the company's circuit breaker
  RetryBudgetConfig retry_budget;               ///< how many failed calls may be retried
};

/// The YAML file installed next to a plugin (`osago_plugin_x.so` →
/// `osago_plugin_x.yaml`) naming the companies it serves and their settings.
/// Example and keys: docs/plugin-guide.md.
struct PluginManifest {
  std::vector<CompanyConfig> companies;

  /// Parses `file` (unknown keys are errors); ${NAME} and ${NAME:-default}
  /// in settings and secrets come from the environment. Throws ConfigError.
  static PluginManifest load(const std::string& file);
};

/// Expands ${NAME} and ${NAME:-default} in every string of `value` from the
/// environment. Throws ConfigError (naming `where`) for an unset variable without default.
nlohmann::json expandEnvironment(const nlohmann::json& value, const std::string& file, const std::string& where);

}  // namespace osago::host
