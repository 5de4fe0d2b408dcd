#include "plugins/plugin_library.hpp"

#include <osago/common/metrics.hpp>

#include <boost/dll/import.hpp>

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

#include <algorithm>
#include <cstddef>
#include <fstream>

namespace osago::host {
std::string PluginLibrary::fileSha256(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw PluginLoadError(path.string() + ": cannot be read");
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) engine.update(buf, static_cast<unsigned>(in.gcount()));
  return Poco::DigestEngine::digestToHex(engine.digest());
}

std::shared_ptr<PluginLibrary> PluginLibrary::load(const std::filesystem::path& path, const Admission& admission) {
  static auto& loads = metrics::counter("osago_plugin_loads_total",
                                        "Plugin files the registry tried to load, by result (loaded, refused)");
  try {
    auto lib = loadVerified(path, admission);
    loads.Add({{"result", "loaded"}}).Increment();
    return lib;
  } catch (const PluginLoadError&) {
    loads.Add({{"result", "refused"}}).Increment();
    throw;
  }
}

std::shared_ptr<PluginLibrary> PluginLibrary::loadVerified(const std::filesystem::path& path, const Admission& admission) {
  // Read once, from the descriptor it was checked on: the digest is of exactly the bytes copied and loaded.
  std::string bytes;
  std::shared_ptr<VerifiedFile> copy;
  std::string sha256;
  try {
    sha256 = VerifiedFile::open(path, kMaxPluginBytes, &bytes)->sha256();
    if (!admission.allowed_sha256.empty() &&
        std::find(admission.allowed_sha256.begin(), admission.allowed_sha256.end(), sha256) ==
            admission.allowed_sha256.end())
      throw PluginLoadError(path.string() + ": refused: SHA-256 " + sha256 +
                            " is not in plugins.allowed_sha256 (osago-plugin-check --digest lists what to add)");
    ensurePrivateDirectory(admission.cache_directory);
    const std::string name = sha256 + ".so";
    // A copy already there is used only if it is still what its name says.
    try {
      copy = VerifiedFile::open(admission.cache_directory / name, kMaxPluginBytes);
      if (copy->sha256() != sha256) copy.reset();
    } catch (const FileRefused&) {
      copy.reset();
    }
    if (!copy) {
      placePrivateFile(admission.cache_directory, name, bytes);
      copy = VerifiedFile::open(admission.cache_directory / name, kMaxPluginBytes);
      if (copy->sha256() != sha256)
        throw PluginLoadError(copy->path().string() + ": the copy just written has SHA-256 " + copy->sha256() +
                              ", not " + sha256 + ": the plugin cache is being tampered with");
    }
  } catch (const FileRefused& e) {
    throw PluginLoadError(e.what());
  }

  PluginIdentity identity;
  try {
    identity = PluginWorker::probe(copy->fd(), copy->path().string(), admission.worker);
  } catch (const PluginLoadError& e) {
    throw PluginLoadError(path.string() + ": " + e.what());
  }
  bool trusted = std::find(admission.in_process.begin(), admission.in_process.end(), identity.id) !=
                 admission.in_process.end();
  if (!trusted)
    return std::shared_ptr<PluginLibrary>(
        new PluginLibrary({}, nullptr, identity, admission.worker, path, sha256, std::move(copy)));

  // Trusted by the operator: its code runs in this process from here on.
  boost::dll::shared_library lib;
  try {
    lib.load(boost::dll::fs::path(copy->procPath()), boost::dll::load_mode::rtld_local | boost::dll::load_mode::rtld_now);
  } catch (const std::exception& e) {
    throw PluginLoadError(path.string() + ": cannot be loaded: " + e.what());
  }
  if (!lib.has(OSAGO_PLUGIN_ENTRY_SYMBOL))
    throw PluginLoadError(path.string() + ": not an osago plugin: it does not export " OSAGO_PLUGIN_ENTRY_SYMBOL);
  auto entry = lib.get<const osago_plugin_api*(uint16_t, uint16_t)>(OSAGO_PLUGIN_ENTRY_SYMBOL);
  const osago_plugin_api* api = entry(OSAGO_PLUGIN_ABI_MAJOR, OSAGO_PLUGIN_ABI_MINOR);
  if (!api || api->abi_major != identity.abi_major || api->abi_minor != identity.abi_minor ||
      api->struct_size < offsetof(osago_plugin_api, destroy) + sizeof(api->destroy) || !api->create || !api->submit ||
      !api->poll || !api->destroy || !api->plugin_id || identity.id != api->plugin_id ||
      OSAGO_PLUGIN_PURCHASABLE(api) != identity.purchasable)
    throw PluginLoadError(path.string() + ": the plugin's table in this process differs from what its probe worker saw");
  return std::shared_ptr<PluginLibrary>(
      new PluginLibrary(std::move(lib), api, identity, admission.worker, path, sha256, std::move(copy)));
}

}  // namespace osago::host
