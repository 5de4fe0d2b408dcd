#include "plugins/plugin_library.hpp"

#include <osago/common/metrics.hpp>

#include <boost/dll/import.hpp>

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

#include <algorithm>
#include <cstddef>
#include <fstream>
#include <iterator>
#include <sys/stat.h>
#include <unistd.h>

namespace osago::host {
namespace {

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
  verifyFile(path);
  // Read once: the digest is of exactly the bytes that are copied and loaded.
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) throw PluginLoadError(path.string() + ": cannot be read");
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(bytes);
  std::string sha256 = Poco::DigestEngine::digestToHex(engine.digest());
  if (!admission.allowed_sha256.empty() &&
      std::find(admission.allowed_sha256.begin(), admission.allowed_sha256.end(), sha256) == admission.allowed_sha256.end())
    throw PluginLoadError(path.string() + ": refused: SHA-256 " + sha256 +
                          " is not in plugins.allowed_sha256 (add it there to admit this build)");

  std::filesystem::path copy = admission.cache_directory / (sha256 + ".so");
  std::error_code ec;
  std::filesystem::create_directories(admission.cache_directory, ec);
  ::chmod(admission.cache_directory.c_str(), 0700);
  if (!std::filesystem::exists(copy)) {
    std::filesystem::path tmp = copy;
    tmp += ".tmp" + std::to_string(::getpid());
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      if (!out) throw PluginLoadError("cannot write the plugin copy " + tmp.string() + " (plugins.cache_directory)");
    }
    ::chmod(tmp.c_str(), 0500);
    std::filesystem::rename(tmp, copy, ec);
    if (ec) throw PluginLoadError("cannot place the plugin copy " + copy.string() + ": " + ec.message());
  }
  verifyFile(copy);

  PluginIdentity identity;
  try {
    identity = PluginWorker::probe(copy.string(), admission.worker);
  } catch (const PluginLoadError& e) {
    throw PluginLoadError(path.string() + ": " + e.what());
  }
  bool trusted = std::find(admission.in_process.begin(), admission.in_process.end(), identity.id) !=
                 admission.in_process.end();
  if (!trusted)
    return std::shared_ptr<PluginLibrary>(
        new PluginLibrary({}, nullptr, identity, admission.worker, path, sha256, copy));

  // Trusted by the operator: its code runs in this process from here on.
  boost::dll::shared_library lib;
  try {
    lib.load(boost::dll::fs::path(copy.string()),
             boost::dll::load_mode::rtld_local | boost::dll::load_mode::rtld_now);
  } catch (const std::exception& e) {
    throw PluginLoadError(path.string() + ": cannot be loaded: " + e.what());
  }
  if (!lib.has(OSAGO_PLUGIN_ENTRY_SYMBOL))
    throw PluginLoadError(path.string() + ": not an osago plugin: it does not export " OSAGO_PLUGIN_ENTRY_SYMBOL);
  auto entry = lib.get<const osago_plugin_api*(uint16_t, uint16_t)>(OSAGO_PLUGIN_ENTRY_SYMBOL);
  const osago_plugin_api* api = entry(OSAGO_PLUGIN_ABI_MAJOR, OSAGO_PLUGIN_ABI_MINOR);
  if (!api || api->abi_major != identity.abi_major || api->abi_minor != identity.abi_minor ||
      api->struct_size < offsetof(osago_plugin_api, destroy) + sizeof(api->destroy) || !api->create || !api->submit ||
      !api->poll || !api->destroy || !api->plugin_id || identity.id != api->plugin_id)
    throw PluginLoadError(path.string() + ": the plugin's table in this process differs from what its probe worker saw");
  return std::shared_ptr<PluginLibrary>(new PluginLibrary(std::move(lib), api, identity, admission.worker, path, sha256, copy));
}

}  // namespace osago::host
