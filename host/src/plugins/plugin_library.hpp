#pragma once

#include <osago/common/errors.hpp>
#include <osago/plugin_abi.h>

#include <boost/dll/shared_library.hpp>

#include <filesystem>
#include <memory>
#include <string>

namespace osago::host {

/// A plugin file that cannot be used; the message says why and what to do.
class PluginLoadError : public Error {
 public:
  using Error::Error;
};

/// One loaded insurer plugin library. The library stays loaded as long as
/// any shared_ptr to it lives (adapters hold one), so nothing that came from
/// it outlives the code. Immutable after load; thread-safe.
class PluginLibrary {
 public:
  /// Verifies the file (regular, owned by this service's user or root, not
  /// writable by group or others), loads it with RTLD_LOCAL, resolves the
  /// entry symbol and checks the ABI version. Throws PluginLoadError.
  static std::shared_ptr<PluginLibrary> load(const std::filesystem::path& path);

  const osago_plugin_api& api() const { return *api_; }
  std::string id() const { return api_->plugin_id; }
  std::string name() const { return api_->plugin_name; }
  std::string version() const { return api_->plugin_version; }
  std::string abiVersion() const { return std::to_string(api_->abi_major) + "." + std::to_string(api_->abi_minor); }
  const std::filesystem::path& path() const { return path_; }

 private:
  PluginLibrary(boost::dll::shared_library lib, const osago_plugin_api* api, std::filesystem::path path)
      : lib_(std::move(lib)), api_(api), path_(std::move(path)) {}

  boost::dll::shared_library lib_;
  const osago_plugin_api* api_;
  std::filesystem::path path_;
};

}  // namespace osago::host
