#pragma once

#include <osago/common/errors.hpp>

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace osago::config {

/// A strict view of one YAML mapping: every key read is remembered and
/// finish() rejects the keys nobody read, so a typo is a start-up error
/// instead of a silently ignored setting. Errors name the file and the full key.
///
/// With an environment prefix every value can be overridden from the
/// environment: key `quotes.deadline_seconds` under prefix OSAGO_AGGREGATOR is
/// OSAGO_AGGREGATOR__QUOTES__DEADLINE_SECONDS (upper case, "__" between levels;
/// the value is read as YAML, so `[a, b]` is a list). The root's finish() also
/// rejects variables with the prefix that name no key.
class Section {
 public:
  struct Environment {
    std::string prefix;
    std::set<std::string> consulted;
  };

  Section(YAML::Node node, std::string file, std::string path, std::shared_ptr<Environment> env = nullptr);

  /// Loads `file` and returns its root mapping; `env_prefix` (e.g. "OSAGO_AGGREGATOR")
  /// turns on environment overrides. Throws ConfigError.
  static Section loadFile(const std::string& file, const std::string& env_prefix = "");

  bool has(const std::string& key) const;

  template <typename T>
  T get(const std::string& key, const T& fallback) {
    auto v = optional<T>(key);
    return v ? *v : fallback;
  }
  template <typename T>
  T require(const std::string& key) {
    auto v = optional<T>(key);
    if (!v) throw ConfigError(file_, qualified(key), "is required");
    return *v;
  }
  template <typename T>
  std::optional<T> optional(const std::string& key) {
    seen_.insert(key);
    if (env_) {
      std::string name = envName(key);
      env_->consulted.insert(name);
      if (const char* v = std::getenv(name.c_str()); v && *v) {
        try {
          return YAML::Load(v).as<T>();
        } catch (const YAML::Exception& e) {
          throw ConfigError("environment variable " + name, "",
                            "has the wrong type for " + qualified(key) + " (" + std::string(e.what()) + ")");
        }
      }
    }
    YAML::Node n = node_[key];
    if (!n || n.IsNull()) return std::nullopt;
    try {
      return n.as<T>();
    } catch (const YAML::Exception& e) {
      throw ConfigError(file_, qualified(key), "has the wrong type (" + std::string(e.what()) + ")");
    }
  }

  /// The nested mapping under `key`; an empty section if the key is absent.
  Section child(const std::string& key);
  /// The sequence of mappings under `key`.
  std::vector<Section> children(const std::string& key);
  /// The raw node (for values passed through, e.g. plugin configuration).
  YAML::Node raw(const std::string& key);

  /// Throws ConfigError for the first key present in the file but never read.
  void finish() const;

  const std::string& file() const { return file_; }
  /// The environment variable that overrides `key` (empty without a prefix).
  std::string envName(const std::string& key) const;
  std::string qualified(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

 private:
  YAML::Node node_;
  std::string file_;
  std::string path_;
  std::set<std::string> seen_;
  std::shared_ptr<Environment> env_;
};

/// Returns the environment variable `name` if it is set and non-empty.
std::optional<std::string> env(const char* name);

/// Reads an integer environment override; throws ConfigError naming the variable on garbage.
std::optional<int> envInt(const char* name);

}  // namespace osago::config

namespace osago::config {

/// The `listen:` section every service has: host and port.
struct Listen {
  std::string host = "127.0.0.1";
  int port = 0;
};

/// Reads `listen: {host, port}` from `root` with `default_port`; other keys of
/// the section are left to `extra` (called with the section before it is finished).
template <typename Extra>
Listen readListen(Section& root, int default_port, Extra&& extra) {
  auto s = root.child("listen");
  Listen l;
  l.host = s.get<std::string>("host", l.host);
  l.port = s.get<int>("port", default_port);
  if (l.port < 0 || l.port > 65535) throw ConfigError(s.file(), s.qualified("port"), "must be 0..65535");
  extra(s);
  s.finish();
  return l;
}
inline Listen readListen(Section& root, int default_port) {
  return readListen(root, default_port, [](Section&) {});
}

/// `log_level` and `log_format` of a service's root section, with the
/// OSAGO_LOG_LEVEL and OSAGO_LOG_FORMAT overrides, checked as
/// logging::configure takes them. Throws ConfigError naming the key.
struct Logging {
  std::string level = "information";
  std::string format = "json";
};
Logging readLogging(Section& root);

/// `path` as named in the configuration `file`: a relative path is relative to
/// the file's directory.
std::string pathFrom(const std::string& file, const std::string& path);

}  // namespace osago::config
