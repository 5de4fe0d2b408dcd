#pragma once

#include "config/aggregator_config.hpp"
#include "plugins/insurer_adapter.hpp"
#include "plugins/plugin_library.hpp"
#include "plugins/plugin_manifest.hpp"
#include "store/plugin_switch_store.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace osago::host {

/// One plugin file as loaded, with the companies its manifest declares.
struct LoadedPlugin {
  std::shared_ptr<PluginLibrary> library;
  std::string manifest_sha256;                                   // with the .so digest: what makes a version
  std::string loaded_at;                                          // ISO 8601 UTC
  std::vector<CompanyConfig> companies;                           // manifest order
  std::map<std::string, std::shared_ptr<InsurerAdapter>> adapters;  // company id → adapter
  std::map<std::string, std::string> company_errors;              // company id → why it has no adapter
  std::string manifest_error;
};

/// A file in the plugin directory that could not be used.
struct RejectedPlugin {
  std::string file;
  std::string error;
  std::string since;  ///< ISO 8601 UTC: when this version of the file was first refused
};

/// What the metrics and the fleet-health reporter need of this instance's
/// plugins, typed; the admin API's JSON is PluginRegistry::describe().
struct HealthView {
  struct Plugin {
    std::string id;
    bool enabled = false;
  };
  /// A company of a loaded plugin that has an adapter.
  struct Company {
    std::string id;
    std::string plugin_id;
    std::string plugin_version;
    bool plugin_enabled = false;
    bool ready = false;              ///< it serves calls now (its worker runs, or it runs in process)
    std::optional<bool> worker_up;   ///< nullopt: the plugin runs in process
    CircuitBreaker::State breaker = CircuitBreaker::State::kClosed;
    int calls_running = 0;
    int calls_queued = 0;
    nlohmann::json report;           ///< its entry of the admin listing (healthView(true) only)
    std::shared_ptr<PartnerHealth> health;  ///< shared by its adapters, e.g. to learn from the fleet's answer times
  };
  std::vector<Plugin> plugins;       ///< every switch, loaded here or not
  std::vector<Company> companies;
};

/// An immutable view of what is loaded; replaced whole on every change.
struct RegistrySnapshot {
  std::map<std::string, std::shared_ptr<const LoadedPlugin>> plugins;  // by plugin id
  std::vector<RejectedPlugin> rejected;
};

/// Where a company's calls go right now.
struct CompanyRoute {
  CompanyConfig company;
  std::string plugin_id;
  std::shared_ptr<InsurerAdapter> adapter;  // null when the company cannot be served (see unavailable)
  std::string unavailable;
  bool enabled = false;                     // the operators' switch of its plugin
};

/// What a rescan changed.
struct RescanReport {
  std::vector<std::string> loaded;    // plugin ids new on this instance
  std::vector<std::string> upgraded;  // plugin ids whose file or manifest changed (blue/green)
  std::vector<std::string> removed;   // plugin ids whose file disappeared
  std::vector<RejectedPlugin> rejected;
};

class UnknownPluginError : public Error {
 public:
  using Error::Error;
};
class PluginStateError : public Error {
 public:
  using Error::Error;
};

/// The plugins of the plugin directory and the routing of companies to them.
/// The directory is rescanned on request and every `rescan` seconds: a new
/// .so becomes available with no restart; a replaced one is loaded beside the
/// old version and takes new calls while calls in flight finish on the old one
/// (old libraries stay resident: unloading code that may still run is unsafe).
/// The on/off switch of each plugin lives in PostgreSQL and is re-read every
/// second, so every instance follows an operator's change within seconds.
/// Thread-safe.
class PluginRegistry {
 public:
  /// `switches` may be null (tests): then every plugin is on.
  PluginRegistry(PluginsConfig config, PluginSwitchStore* switches, std::string instance_id);
  ~PluginRegistry();

  /// Looks at the directory now and applies what changed. Serialised with other rescans.
  RescanReport rescan();
  /// Asks the background thread for a rescan now (at most one a second).
  void rescanSoon() const;
  /// Starts the background rescans and switch refreshes.
  void start();
  void stop();

  /// Every company a new request must list, in a stable order.
  std::vector<CompanyRoute> companies() const;
  /// The route of one company; nullopt when no loaded plugin declares it.
  std::optional<CompanyRoute> route(const std::string& company_id) const;

  /// Flips a plugin's switch for every instance. Throws UnknownPluginError
  /// (never seen) or PluginStateError (enabling a plugin that is not loaded here).
  void setEnabled(const std::string& plugin_id, bool enabled, const std::string& by);
  /// Re-reads the switches from PostgreSQL.
  void refreshSwitches();

  /// The admin view: every plugin with its state and companies, and the rejected files.
  nlohmann::json describe() const;
  /// The same facts, typed, for metrics and health reports; `with_reports`
  /// also fills each company's admin-listing entry (the fleet reporter stores it).
  HealthView healthView(bool with_reports = false) const;
  nlohmann::json describePlugin(const std::string& plugin_id) const;

  std::shared_ptr<const RegistrySnapshot> snapshot() const;

 private:
  bool isEnabled(const std::string& plugin_id) const;
  nlohmann::json describe(const LoadedPlugin& plugin) const;
  static nlohmann::json describeCompany(const LoadedPlugin& plugin, const CompanyConfig& company);

  PluginsConfig config_;
  PluginSwitchStore* switches_store_;
  std::string instance_id_;

  mutable std::mutex mutex_;                         // guards snapshot_ and switches_
  std::shared_ptr<const RegistrySnapshot> snapshot_;
  std::map<std::string, bool> switches_;
  std::vector<std::shared_ptr<PluginLibrary>> retired_;  // replaced versions, kept resident
  std::map<std::string, std::shared_ptr<PartnerHealth>> health_;  // by company id, across versions
  std::mutex rescan_mutex_;
  /// The digest of each file looked at, with the stat data it was computed
  /// for: a rescan re-hashes only files whose inode, size or times changed
  /// (hashing every plugin every two seconds costs a CPU burst). rescan_mutex_.
  struct KnownDigest {
    std::string stat_key;
    std::string sha256;
  };
  std::map<std::string, KnownDigest> digests_;
  /// Files refused, by path, with the version (digest, stat data, manifest digest) refused:
  /// the same version is refused again without loading it. rescan_mutex_.
  struct RejectedVersion {
    std::string version;
    std::string plugin_id;  ///< a duplicate id: refused only while another file serves it
    std::string error;
    std::string since;
  };
  std::map<std::string, RejectedVersion> rejected_versions_;
  std::string digestOf(const std::filesystem::path& file);

  // The steps of a rescan.
  struct RescanPass;
  /// The *.so files of the directory in name order; nullopt when it cannot be read.
  std::optional<std::vector<std::filesystem::path>> pluginFiles() const;
  /// Keeps the file's loaded plugin if unchanged, else loads it, or refuses it (from memory if refused before).
  void considerFile(RescanPass& pass, const std::filesystem::path& file);
  /// A newly loaded library with its manifest's companies goes into the next snapshot.
  void serve(RescanPass& pass, const std::shared_ptr<PluginLibrary>& lib, const std::string& manifest_sha);
  /// One adapter per company no other plugin serves, keeping each company's health across versions.
  void createAdapters(LoadedPlugin& loaded, std::set<std::string>& companies_taken);
  /// Makes sure the plugin has a stored switch and reads it.
  void recordSwitch(const std::string& plugin_id);
  /// Plugins gone or replaced are reported and kept resident (calls may still run in them).
  void retireReplaced(RescanPass& pass);

  std::atomic<bool> running_{false};
  mutable std::atomic<bool> rescan_requested_{false};
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace osago::host
