#pragma once

#include "plugins/plugin_worker.hpp"
#include "plugins/verified_file.hpp"

#include <osago/common/errors.hpp>
#include <osago/plugin_abi.h>

#include <boost/dll/shared_library.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace osago::host {

/// A plugin file that cannot be used; the message says why and what to do.
class PluginLoadError : public Error {
 public:
  using Error::Error;
};

/// One admitted insurer plugin library. By default its code never runs in
/// this process: a short-lived worker loads it to learn what it is, and each
/// company's calls run in a supervised worker of its own (PluginWorker). A
/// plugin the operator trusts (plugins.in_process) is loaded here instead;
/// the library then stays loaded as long as any shared_ptr to it lives
/// (adapters hold one), so nothing that came from it outlives the code.
/// Immutable after load; thread-safe.
class PluginLibrary {
 public:
  /// Admission rules checked before a byte of the plugin runs, and how it runs.
  struct Admission {
    std::filesystem::path cache_directory;      ///< where content-addressed copies are kept
    std::vector<std::string> allowed_sha256;    ///< empty: any digest
    std::vector<std::string> in_process;        ///< plugin ids trusted to run inside this process
    WorkerLimits worker;                        ///< how the others' workers run
  };

  /// Reads `path` through a VerifiedFile (no symbolic link; regular, owned by
  /// this service's user or root, not writable by group or others; hashed from
  /// the descriptor it was checked on), checks its digest against the allow
  /// list, copies those bytes to `<cache>/<sha256>.so` in a private directory
  /// (a copy already there is used only when its own digest is right), and
  /// keeps that copy open: the probe worker (entry symbol, ABI version, its
  /// table), every company's worker and, only for a plugin listed in
  /// `in_process`, this process (RTLD_LOCAL) load it from that descriptor.
  /// Throws PluginLoadError.
  static std::shared_ptr<PluginLibrary> load(const std::filesystem::path& path, const Admission& admission);

  /// A plugin file or manifest larger than this is refused.
  static constexpr std::size_t kMaxPluginBytes = 256u << 20;

  /// SHA-256 of a file's content, lower-case hex. Throws PluginLoadError.
  static std::string fileSha256(const std::filesystem::path& path);

  /// Whether the library is loaded in this process (a trusted plugin); api() is valid only then.
  bool inProcess() const { return api_ != nullptr; }
  const osago_plugin_api& api() const { return *api_; }
  const WorkerLimits& workerLimits() const { return worker_; }
  const std::string& id() const { return identity_.id; }
  const std::string& name() const { return identity_.name; }
  const std::string& version() const { return identity_.version; }
  /// Whether its offers can be bought here: the plugin has the ABI 1.2 purchase entries.
  bool purchasable() const { return identity_.purchasable; }
  std::string abiVersion() const { return std::to_string(identity_.abi_major) + "." + std::to_string(identity_.abi_minor); }
  const std::filesystem::path& path() const { return path_; }      ///< the file as dropped in the directory
  const std::string& sha256() const { return sha256_; }
  const std::filesystem::path& loadedFrom() const { return loaded_from_; }  ///< the content-addressed copy
  const VerifiedFile& loadedFile() const { return *copy_; }                  ///< that copy, open

 private:
  static std::shared_ptr<PluginLibrary> loadVerified(const std::filesystem::path& path, const Admission& admission);
  PluginLibrary(boost::dll::shared_library lib, const osago_plugin_api* api, PluginIdentity identity,
                WorkerLimits worker, std::filesystem::path path, std::string sha256, std::shared_ptr<VerifiedFile> copy)
      : lib_(std::move(lib)), api_(api), identity_(std::move(identity)), worker_(std::move(worker)),
        path_(std::move(path)), sha256_(std::move(sha256)), loaded_from_(copy->path()), copy_(std::move(copy)) {}

  boost::dll::shared_library lib_;
  const osago_plugin_api* api_;  ///< null unless in process
  PluginIdentity identity_;
  WorkerLimits worker_;
  std::filesystem::path path_;
  std::string sha256_;
  std::filesystem::path loaded_from_;
  std::shared_ptr<VerifiedFile> copy_;
};

}  // namespace osago::host
