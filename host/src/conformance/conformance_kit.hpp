#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace osago::host {

/// What the conformance kit checks a plugin against.
struct ConformanceTarget {
  std::string plugin_file;     ///< the .so, loaded exactly as the host loads it
  std::string manifest_file;   ///< its manifest
  std::string company_id;      ///< which company of the manifest (empty: the first)
  std::string simulator_url;   ///< the insurer simulator with its control API
  std::string insurer_id;      ///< the simulator's insurer (empty: the company id)
};

/// One scenario's verdict.
struct ScenarioResult {
  std::string name;
  bool passed = false;
  std::string detail;
};

/// Runs the standard scenarios (offer, pending then offer, decline, server
/// error, malformed body, timeout; and for a plugin that sells, a purchase to
/// the policy through the payment page, a repeated issue being one purchase,
/// a declined purchase) against the simulator, switching its behaviour for
/// each and restoring it afterwards. Throws osago::Error when
/// the plugin, its manifest or the simulator cannot be used at all.
std::vector<ScenarioResult> runConformance(const ConformanceTarget& target, nlohmann::json& plugin_info);

}  // namespace osago::host
