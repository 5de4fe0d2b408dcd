#include "plugins/plugin_registry.hpp"

#include <osago/common/civil_date.hpp>
#include <osago/common/errors.hpp>
#include <osago/common/metrics.hpp>

#include <Poco/DateTimeFormat.h>
#include <Poco/Logger.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include <sys/stat.h>

namespace osago::host {
namespace {

namespace fs = std::filesystem;

fs::path manifestFor(const fs::path& so) {
  fs::path m = so;
  m.replace_extension(".yaml");
  return m;
}

}  // namespace

PluginRegistry::PluginRegistry(PluginsConfig config, PluginSwitchStore* switches, std::string instance_id)
    : config_(std::move(config)), switches_store_(switches), instance_id_(std::move(instance_id)),
      snapshot_(std::make_shared<RegistrySnapshot>()) {}

PluginRegistry::~PluginRegistry() { stop(); }

std::shared_ptr<const RegistrySnapshot> PluginRegistry::snapshot() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

std::string PluginRegistry::digestOf(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return PluginLibrary::fileSha256(file);  // throws with the reason
  std::string key = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) +
                    ":" + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ":" +
                    std::to_string(st.st_ctim.tv_sec) + "." + std::to_string(st.st_ctim.tv_nsec);
  auto& known = digests_[file.string()];
  if (known.stat_key != key) known = {key, PluginLibrary::fileSha256(file)};
  return known.sha256;
}

/// One rescan's state: what was served before, what will be served after.
struct PluginRegistry::RescanPass {
  std::shared_ptr<const RegistrySnapshot> old;
  std::shared_ptr<RegistrySnapshot> next = std::make_shared<RegistrySnapshot>();
  RescanReport report;
  std::map<std::string, std::shared_ptr<const LoadedPlugin>> by_file;  // which loaded plugin came from which file
  std::set<std::string> companies_taken;
  std::map<std::string, RejectedVersion> still_rejected;  // what this rescan keeps of rejected_versions_
  PluginLibrary::Admission admission;
};

RescanReport PluginRegistry::rescan() {
  std::lock_guard rescan_lock(rescan_mutex_);
  auto files = pluginFiles();
  if (!files) return {};  // keep serving what is loaded
  RescanPass pass;
  pass.old = snapshot();
  pass.admission = {config_.cache_directory, config_.allowed_sha256, config_.in_process, config_.worker};
  for (const auto& [id, p] : pass.old->plugins) pass.by_file[p->library->path().string()] = p;
  for (const auto& file : *files) considerFile(pass, file);
  rejected_versions_ = std::move(pass.still_rejected);  // files gone or changed are forgotten
  retireReplaced(pass);
  std::lock_guard lock(mutex_);
  snapshot_ = pass.next;
  return pass.report;
}

std::optional<std::vector<fs::path>> PluginRegistry::pluginFiles() const {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(config_.directory, ec))
    if (entry.path().extension() == ".so") files.push_back(entry.path());
  if (ec) {
    Poco::Logger::get("plugins").error("plugin directory " + config_.directory + " cannot be read: " + ec.message());
    return std::nullopt;
  }
  std::sort(files.begin(), files.end());
  return files;
}

void PluginRegistry::considerFile(RescanPass& pass, const fs::path& file) {
  auto reject = [&](const std::string& error) {
    pass.next->rejected.push_back({file.string(), error, isoUtc(std::chrono::system_clock::now())});
    pass.report.rejected.push_back({file.string(), error, pass.next->rejected.back().since});
  };
  // A file version (content, inode, times, manifest) refused before is refused again from
  // memory: its code is not run once more every rescan (a hanging entry point would hold
  // this thread for plugins.worker.load_timeout_ms each time).
  auto remember = [&](const std::string& version, const std::string& plugin_id) {
    pass.still_rejected[file.string()] = {version, plugin_id, pass.next->rejected.back().error,
                                          pass.next->rejected.back().since};
  };
  std::string manifest_sha;
  if (fs::exists(manifestFor(file))) {
    try {
      manifest_sha = digestOf(manifestFor(file));
    } catch (const PluginLoadError& e) {
      manifest_sha = "unreadable";
    }
  }
  // An unchanged file (and manifest) keeps its loaded plugin.
  if (auto it = pass.by_file.find(file.string()); it != pass.by_file.end()) {
    bool unchanged = false;
    try {
      unchanged = digestOf(file) == it->second->library->sha256() && it->second->manifest_sha256 == manifest_sha;
    } catch (const PluginLoadError& e) {
      return reject(e.what());
    }
    if (unchanged) {
      const auto& reuse = it->second;
      if (pass.next->plugins.count(reuse->library->id()))
        return reject("plugin id '" + reuse->library->id() + "' is already served by another file");
      for (const auto& c : reuse->companies) pass.companies_taken.insert(c.id);
      pass.next->plugins[reuse->library->id()] = reuse;
      return;
    }
  }

  std::string version;
  try {
    version = digestOf(file) + "/" + digests_[file.string()].stat_key + "/" + manifest_sha;
  } catch (const PluginLoadError& e) {
    return reject(e.what());
  }
  if (auto known = rejected_versions_.find(file.string());
      known != rejected_versions_.end() && known->second.version == version &&
      (known->second.plugin_id.empty() || pass.next->plugins.count(known->second.plugin_id))) {
    pass.next->rejected.push_back({file.string(), known->second.error, known->second.since});
    pass.still_rejected[file.string()] = known->second;
    return;
  }
  std::shared_ptr<PluginLibrary> lib;
  try {
    lib = PluginLibrary::load(file, pass.admission);
  } catch (const PluginLoadError& e) {
    Poco::Logger::get("plugins").error(e.what());
    reject(e.what());
    return remember(version, "");
  }
  if (pass.next->plugins.count(lib->id())) {
    reject("plugin id '" + lib->id() + "' is already served by " + pass.next->plugins[lib->id()]->library->path().string());
    remember(version, lib->id());  // refused while that id is served by another file
    if (lib->inProcess()) retired_.push_back(lib);  // its code ran here: keep it resident
    return;
  }
  serve(pass, lib, manifest_sha);
}

void PluginRegistry::serve(RescanPass& pass, const std::shared_ptr<PluginLibrary>& lib, const std::string& manifest_sha) {
  auto& log = Poco::Logger::get("plugins");
  auto loaded = std::make_shared<LoadedPlugin>();
  loaded->library = lib;
  loaded->manifest_sha256 = manifest_sha;
  loaded->loaded_at = isoUtc(std::chrono::system_clock::now());
  std::string manifest_file = manifestFor(lib->path()).string();
  try {
    if (manifest_sha.empty())
      throw ConfigError(manifest_file, "", "no manifest: the plugin serves no company until one is installed beside it");
    // Read once, checked on its descriptor: the digest listed and allowed is of the text parsed.
    std::string text;
    try {
      loaded->manifest_sha256 = VerifiedFile::open(manifest_file, PluginManifest::kMaxBytes, &text)->sha256();
    } catch (const FileRefused& e) {
      throw ConfigError(manifest_file, "", e.what());
    }
    const auto& allowed = config_.allowed_sha256;
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), loaded->manifest_sha256) == allowed.end())
      throw ConfigError(manifest_file, "",
                        "refused: SHA-256 " + loaded->manifest_sha256 +
                            " is not in plugins.allowed_sha256: a manifest is admitted with its library, by digest "
                            "(osago-plugin-check --digest lists both)");
    loaded->companies = PluginManifest::parse(text, manifest_file, config_.partner_http).companies;
  } catch (const ConfigError& e) {
    loaded->manifest_error = e.what();
    log.error(e.what());
  }
  createAdapters(*loaded, pass.companies_taken);
  bool upgrade = pass.old->plugins.count(lib->id()) > 0;
  (upgrade ? pass.report.upgraded : pass.report.loaded).push_back(lib->id());
  log.information(std::string(upgrade ? "upgraded" : "loaded") + " plugin " + lib->id() + " " + lib->version() +
                  " (ABI " + lib->abiVersion() + ", sha256 " + lib->sha256().substr(0, 12) + ") from " +
                  lib->path().string() + " serving " + std::to_string(loaded->adapters.size()) + " companies");
  recordSwitch(lib->id());
  pass.next->plugins[lib->id()] = loaded;
}

void PluginRegistry::createAdapters(LoadedPlugin& loaded, std::set<std::string>& companies_taken) {
  for (auto& company : loaded.companies) {
    company.plugin = loaded.library->id();
    if (!companies_taken.insert(company.id).second) {
      loaded.company_errors[company.id] = "company id '" + company.id + "' is already served by another plugin";
    } else {
      try {
        auto& health = health_[company.id];
        if (health) {
          // Keep the state, the window and the tokens across versions.
          health->breaker.reconfigure(company.breaker);
          health->retry_budget.reconfigure(company.retry_budget);
        } else {
          health = std::make_shared<PartnerHealth>(company.breaker, company.retry_budget);
        }
        loaded.adapters[company.id] = std::make_shared<InsurerAdapter>(company, loaded.library, health);
      } catch (const PluginLoadError& e) {
        loaded.company_errors[company.id] = e.what();
      }
    }
    if (loaded.company_errors.count(company.id))
      Poco::Logger::get("plugins").error("company " + company.id + ": " + loaded.company_errors[company.id]);
  }
}

void PluginRegistry::recordSwitch(const std::string& plugin_id) {
  if (!switches_store_) return;
  try {
    bool on = switches_store_->ensure(plugin_id, config_.enable_new, "first seen by " + instance_id_);
    std::lock_guard lock(mutex_);
    switches_[plugin_id] = on;
  } catch (const std::exception& e) {
    Poco::Logger::get("plugins").error("cannot record the switch of plugin " + plugin_id + ": " + errorText(e));
  }
}

void PluginRegistry::retireReplaced(RescanPass& pass) {
  for (const auto& [id, p] : pass.old->plugins) {
    auto it = pass.next->plugins.find(id);
    if (it == pass.next->plugins.end()) {
      pass.report.removed.push_back(id);
      Poco::Logger::get("plugins").warning("plugin " + id + " is gone from " + config_.directory +
                                           "; its companies are no longer asked");
    }
    if (it == pass.next->plugins.end() || it->second != p) retired_.push_back(p->library);
  }
}

void PluginRegistry::start() {
  running_ = true;
  thread_ = std::thread([this] {
    auto next_rescan = std::chrono::steady_clock::now() + config_.rescan;
    while (running_) {
      {
        std::unique_lock lock(wake_mutex_);
        wake_.wait_for(lock, std::chrono::seconds(1), [this] { return !running_.load(); });
      }
      if (!running_) break;
      try {
        refreshSwitches();
      } catch (const std::exception& e) {
        Poco::Logger::get("plugins").warning(std::string("cannot read plugin switches: ") + errorText(e));
      }
      bool requested = rescan_requested_.exchange(false);
      bool periodic = config_.rescan.count() > 0 && std::chrono::steady_clock::now() >= next_rescan;
      if (requested || periodic) {
        try {
          rescan();
        } catch (const std::exception& e) {
          // The edge of the registry's thread: what is loaded keeps serving; the next rescan tries again.
          metrics::countBarrier("aggregator.plugin_registry");
          Poco::Logger::get("plugins").error(std::string("rescan failed (a bug?): ") + errorText(e));
        }
        next_rescan = std::chrono::steady_clock::now() + config_.rescan;
      }
    }
  });
}

void PluginRegistry::rescanSoon() const { rescan_requested_ = true; }

void PluginRegistry::stop() {
  if (!running_.exchange(false)) return;
  wake_.notify_all();
  thread_.join();
}

void PluginRegistry::refreshSwitches() {
  if (!switches_store_) return;
  auto stored = switches_store_->load();
  std::lock_guard lock(mutex_);
  for (const auto& [id, on] : stored) switches_[id] = on;
}

bool PluginRegistry::isEnabled(const std::string& plugin_id) const {
  if (!switches_store_) return true;
  auto it = switches_.find(plugin_id);
  return it == switches_.end() ? config_.enable_new : it->second;
}

namespace {

/// The route of `company` of `plugin`, or nullopt when the plugin does not serve it.
std::optional<CompanyRoute> routeOf(const std::string& plugin_id, const LoadedPlugin& plugin, const CompanyConfig& company,
                                    bool enabled) {
  CompanyRoute r{company, plugin_id, nullptr, "", enabled};
  if (auto a = plugin.adapters.find(company.id); a != plugin.adapters.end())
    r.adapter = a->second;
  else if (auto e = plugin.company_errors.find(company.id); e != plugin.company_errors.end())
    r.unavailable = e->second;
  else
    return std::nullopt;  // declared by another plugin that got it first
  return r;
}

}  // namespace

std::vector<CompanyRoute> PluginRegistry::companies() const {
  std::lock_guard lock(mutex_);
  std::vector<CompanyRoute> out;
  for (const auto& [id, p] : snapshot_->plugins)
    for (const auto& company : p->companies)
      if (auto r = routeOf(id, *p, company, isEnabled(id))) out.push_back(std::move(*r));
  return out;
}

std::optional<CompanyRoute> PluginRegistry::route(const std::string& company_id) const {
  // On every partner call: look the one company up instead of copying them all.
  std::lock_guard lock(mutex_);
  for (const auto& [id, p] : snapshot_->plugins)
    for (const auto& company : p->companies)
      if (company.id == company_id)
        if (auto r = routeOf(id, *p, company, isEnabled(id))) return r;
  return std::nullopt;
}

void PluginRegistry::setEnabled(const std::string& plugin_id, bool enabled, const std::string& by) {
  bool loaded = false;
  bool known = false;
  {
    std::lock_guard lock(mutex_);
    loaded = snapshot_->plugins.count(plugin_id) > 0;
    known = loaded || switches_.count(plugin_id) > 0;
  }
  if (!known) throw UnknownPluginError("no plugin '" + plugin_id + "' (GET /admin/plugins lists them)");
  if (enabled && !loaded)
    throw PluginStateError("plugin '" + plugin_id + "' is not loaded on this instance; install its .so and rescan first");
  if (switches_store_) switches_store_->set(plugin_id, enabled, by);
  std::lock_guard lock(mutex_);
  switches_[plugin_id] = enabled;
}

nlohmann::json PluginRegistry::describeCompany(const LoadedPlugin& p, const CompanyConfig& c) {
  nlohmann::json j{{"id", c.id}, {"name", c.name}};
  if (auto a = p.adapters.find(c.id); a != p.adapters.end()) {
    j["state"] = a->second->workerUp() ? "READY" : "WORKER_DOWN";
    if (auto worker = a->second->describeWorker(); !worker.is_null()) j["worker"] = std::move(worker);
    j["callsRunning"] = a->second->callsRunning();
    j["callsQueued"] = a->second->callsQueued();
    j["maxConcurrentCalls"] = c.max_concurrent_calls;
    j["maxQueuedCalls"] = c.max_queued_calls;
    j["health"] = a->second->health().describe(std::chrono::steady_clock::now());
  } else {
    j["state"] = "UNAVAILABLE";
    j["error"] = p.company_errors.count(c.id) ? p.company_errors.at(c.id) : "";
  }
  return j;
}

nlohmann::json PluginRegistry::describe(const LoadedPlugin& p) const {
  const auto& lib = *p.library;
  nlohmann::json companies = nlohmann::json::array();
  for (const auto& c : p.companies) companies.push_back(describeCompany(p, c));
  nlohmann::json j{{"id", lib.id()},
                   {"name", lib.name()},
                   {"version", lib.version()},
                   {"abiVersion", lib.abiVersion()},
                   {"isolation", lib.inProcess() ? "in_process" : "process"},
                   {"file", lib.path().string()},
                   {"sha256", lib.sha256()},
                   {"enabled", isEnabled(lib.id())},
                   {"state", "LOADED"},
                   {"loadedAt", p.loaded_at},
                   {"manifestSha256", p.manifest_sha256},
                   {"companies", std::move(companies)}};
  if (!p.manifest_error.empty()) j["manifestError"] = p.manifest_error;
  return j;
}

nlohmann::json PluginRegistry::describe() const {
  std::lock_guard lock(mutex_);
  nlohmann::json plugins = nlohmann::json::array();
  for (const auto& [id, p] : snapshot_->plugins) plugins.push_back(describe(*p));
  for (const auto& [id, on] : switches_) {
    if (!snapshot_->plugins.count(id))
      plugins.push_back({{"id", id}, {"enabled", on}, {"state", "NOT_LOADED"}, {"companies", nlohmann::json::array()}});
  }
  nlohmann::json rejected = nlohmann::json::array();
  for (const auto& r : snapshot_->rejected)
    rejected.push_back({{"file", r.file}, {"state", "REJECTED"}, {"error", r.error}, {"since", r.since}});
  return {{"instance", instance_id_}, {"directory", config_.directory}, {"plugins", plugins}, {"rejected", rejected}};
}

HealthView PluginRegistry::healthView(bool with_reports) const {
  std::lock_guard lock(mutex_);
  HealthView view;
  auto now = CircuitBreaker::Clock::now();
  for (const auto& [id, p] : snapshot_->plugins) {
    bool enabled = isEnabled(id);
    view.plugins.push_back({id, enabled});
    for (const auto& c : p->companies) {
      auto a = p->adapters.find(c.id);
      if (a == p->adapters.end()) continue;
      const auto& adapter = *a->second;
      HealthView::Company h;
      h.id = c.id;
      h.plugin_id = id;
      h.plugin_version = p->library->version();
      h.plugin_enabled = enabled;
      h.ready = adapter.workerUp();
      if (!adapter.inProcess()) h.worker_up = h.ready;
      h.breaker = adapter.health().breaker.state(now);
      h.health = adapter.sharedHealth();
      h.calls_running = adapter.callsRunning();
      h.calls_queued = adapter.callsQueued();
      if (with_reports) h.report = describeCompany(*p, c);
      view.companies.push_back(std::move(h));
    }
  }
  for (const auto& [id, on] : switches_)
    if (!snapshot_->plugins.count(id)) view.plugins.push_back({id, on});
  return view;
}

nlohmann::json PluginRegistry::describePlugin(const std::string& plugin_id) const {
  std::lock_guard lock(mutex_);
  if (auto it = snapshot_->plugins.find(plugin_id); it != snapshot_->plugins.end()) return describe(*it->second);
  if (auto it = switches_.find(plugin_id); it != switches_.end())
    return {{"id", plugin_id}, {"enabled", it->second}, {"state", "NOT_LOADED"}, {"companies", nlohmann::json::array()}};
  throw UnknownPluginError("no plugin '" + plugin_id + "' (GET /admin/plugins lists them)");
}

}  // namespace osago::host
