#pragma once

#include "config/aggregator_config.hpp"
#include "plugins/insurer_adapter.hpp"
#include "plugins/plugin_library.hpp"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace osago::host {

/// The plugins found in the plugin directory and the company adapters built
/// from them. Built once at start-up; read-only and thread-safe afterwards.
/// A plugin or company that fails never stops the others: it is recorded with
/// its reason and its company answers FAILED/PLUGIN_UNAVAILABLE.
class PluginRegistry {
 public:
  PluginRegistry(const std::string& directory, const std::vector<CompanyConfig>& companies);

  /// The adapter for `company_id`, or nullptr (then unavailableReason() says why).
  std::shared_ptr<InsurerAdapter> adapter(const std::string& company_id) const;
  std::string unavailableReason(const std::string& company_id) const;

  /// Enabled companies, in configuration order: every new request asks each.
  const std::vector<CompanyConfig>& enabledCompanies() const { return enabled_; }
  const std::map<std::string, std::shared_ptr<PluginLibrary>>& libraries() const { return libraries_; }

 private:
  std::map<std::string, std::shared_ptr<PluginLibrary>> libraries_;   // by plugin id
  std::map<std::string, std::shared_ptr<InsurerAdapter>> adapters_;   // by company id
  std::map<std::string, std::string> unavailable_;                    // company id → reason
  std::vector<CompanyConfig> enabled_;
};

}  // namespace osago::host
