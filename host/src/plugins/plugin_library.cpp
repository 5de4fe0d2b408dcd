#include "plugins/plugin_library.hpp"

#include <boost/dll/import.hpp>

#include <cstddef>
#include <sys/stat.h>
#include <unistd.h>

namespace osago::host {
namespace {

std::string hostAbi() { return std::to_string(OSAGO_PLUGIN_ABI_MAJOR) + "." + std::to_string(OSAGO_PLUGIN_ABI_MINOR); }

void verifyFile(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw PluginLoadError(path.string() + ": cannot be read");
  if (!S_ISREG(st.st_mode)) throw PluginLoadError(path.string() + ": is not a regular file");
  if (st.st_uid != ::geteuid() && st.st_uid != 0)
    throw PluginLoadError(path.string() + ": refused: owned by uid " + std::to_string(st.st_uid) +
                          ", not by this service's user or root (chown it)");
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    throw PluginLoadError(path.string() + ": refused: writable by group or others (chmod go-w it)");
}

}  // namespace

std::shared_ptr<PluginLibrary> PluginLibrary::load(const std::filesystem::path& path) {
  verifyFile(path);
  boost::dll::shared_library lib;
  try {
    lib.load(boost::dll::fs::path(path.string()),
             boost::dll::load_mode::rtld_local | boost::dll::load_mode::rtld_now);
  } catch (const std::exception& e) {
    throw PluginLoadError(path.string() + ": cannot be loaded: " + e.what());
  }
  if (!lib.has(OSAGO_PLUGIN_ENTRY_SYMBOL))
    throw PluginLoadError(path.string() + ": not an osago plugin: it does not export " OSAGO_PLUGIN_ENTRY_SYMBOL);
  auto entry = lib.get<const osago_plugin_api*(uint16_t, uint16_t)>(OSAGO_PLUGIN_ENTRY_SYMBOL);
  const osago_plugin_api* api = entry(OSAGO_PLUGIN_ABI_MAJOR, OSAGO_PLUGIN_ABI_MINOR);
  if (!api) throw PluginLoadError(path.string() + ": the plugin refused to work with host ABI " + hostAbi());
  std::string built_for = std::to_string(api->abi_major) + "." + std::to_string(api->abi_minor);
  if (api->abi_major != OSAGO_PLUGIN_ABI_MAJOR || api->abi_minor > OSAGO_PLUGIN_ABI_MINOR)
    throw PluginLoadError(path.string() + ": plugin built for ABI " + built_for + ", host supports " +
                          std::to_string(OSAGO_PLUGIN_ABI_MAJOR) + ".0 to " + hostAbi() +
                          " (rebuild the plugin against this host's plugin-api, or upgrade the host)");
  constexpr std::size_t kMinSize = offsetof(osago_plugin_api, destroy) + sizeof(api->destroy);
  if (api->struct_size < kMinSize)
    throw PluginLoadError(path.string() + ": plugin table is too small (" + std::to_string(api->struct_size) + " bytes)");
  if (!api->plugin_id || !*api->plugin_id || !api->plugin_name || !api->plugin_version || !api->create ||
      !api->submit || !api->poll || !api->destroy)
    throw PluginLoadError(path.string() + ": plugin table has empty fields (id, name, version and every function are required)");
  return std::shared_ptr<PluginLibrary>(new PluginLibrary(std::move(lib), api, path));
}

}  // namespace osago::host
