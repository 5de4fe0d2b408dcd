#include "plugins/plugin_registry.hpp"

#include <Poco/Logger.h>

#include <algorithm>
#include <filesystem>

namespace osago::host {

PluginRegistry::PluginRegistry(const std::string& directory, const std::vector<CompanyConfig>& companies) {
  auto& log = Poco::Logger::get("plugins");
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(directory, ec))
    if (entry.path().extension() == ".so") files.push_back(entry.path());
  if (ec) log.error("plugin directory " + directory + " cannot be read: " + ec.message());
  std::sort(files.begin(), files.end());

  for (const auto& file : files) {
    try {
      auto lib = PluginLibrary::load(file);
      auto [it, inserted] = libraries_.emplace(lib->id(), lib);
      if (!inserted) {
        log.error(file.string() + ": plugin id '" + lib->id() + "' is already served by " + it->second->path().string() +
                  "; this file is ignored");
        continue;
      }
      log.information("loaded plugin " + lib->id() + " " + lib->version() + " (ABI " + lib->abiVersion() + ") from " +
                      file.string());
    } catch (const PluginLoadError& e) {
      log.error(e.what());
    }
  }

  for (const auto& company : companies) {
    if (!company.enabled) {
      log.information("company " + company.id + " is disabled in the configuration");
      continue;
    }
    enabled_.push_back(company);
    auto lib = libraries_.find(company.plugin);
    if (lib == libraries_.end()) {
      unavailable_[company.id] = "plugin '" + company.plugin + "' is not loaded (is its .so in " + directory + "?)";
      log.error("company " + company.id + ": " + unavailable_[company.id]);
      continue;
    }
    try {
      adapters_[company.id] = std::make_shared<InsurerAdapter>(company, lib->second);
    } catch (const PluginLoadError& e) {
      unavailable_[company.id] = e.what();
      log.error(e.what());
    }
  }
}

std::shared_ptr<InsurerAdapter> PluginRegistry::adapter(const std::string& company_id) const {
  auto it = adapters_.find(company_id);
  return it == adapters_.end() ? nullptr : it->second;
}

std::string PluginRegistry::unavailableReason(const std::string& company_id) const {
  auto it = unavailable_.find(company_id);
  return it == unavailable_.end() ? "company '" + company_id + "' is not configured or disabled" : it->second;
}

}  // namespace osago::host
