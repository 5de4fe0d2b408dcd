#pragma once

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

/// One loaded insurer plugin library. The library stays loaded as long as
/// any shared_ptr to it lives (adapters hold one), so nothing that came from
/// it outlives the code. Immutable after load; thread-safe.
class PluginLibrary {
 public:
  /// Admission rules checked before a byte of the plugin runs.
  struct Admission {
    std::filesystem::path cache_directory;      ///< where content-addressed copies are kept
    std::vector<std::string> allowed_sha256;    ///< empty: any digest
  };

  /// Verifies `path` (regular, owned by this service's user or root, not
  /// writable by group or others, digest allowed), copies it to
  /// `<cache>/<sha256>.so` so that a new version of the same file name really
  /// loads, loads the copy with RTLD_LOCAL, resolves the entry symbol and
  /// checks the ABI version. Throws PluginLoadError.
  static std::shared_ptr<PluginLibrary> load(const std::filesystem::path& path, const Admission& admission);

  /// SHA-256 of a file's content, lower-case hex. Throws PluginLoadError.
  static std::string fileSha256(const std::filesystem::path& path);

  const osago_plugin_api& api() const { return *api_; }
  std::string id() const { return api_->plugin_id; }
  std::string name() const { return api_->plugin_name; }
  std::string version() const { return api_->plugin_version; }
  std::string abiVersion() const { return std::to_string(api_->abi_major) + "." + std::to_string(api_->abi_minor); }
  const std::filesystem::path& path() const { return path_; }      ///< the file as dropped in the directory
  const std::string& sha256() const { return sha256_; }
  const std::filesystem::path& loadedFrom() const { return loaded_from_; }  ///< the content-addressed copy

 private:
  PluginLibrary(boost::dll::shared_library lib, const osago_plugin_api* api, std::filesystem::path path,
                std::string sha256, std::filesystem::path loaded_from)
      : lib_(std::move(lib)), api_(api), path_(std::move(path)), sha256_(std::move(sha256)),
        loaded_from_(std::move(loaded_from)) {}

  boost::dll::shared_library lib_;
  const osago_plugin_api* api_;
  std::filesystem::path path_;
  std::string sha256_;
  std::filesystem::path loaded_from_;
};

}  // namespace osago::host
