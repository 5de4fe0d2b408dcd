#pragma once

#include <osago/common/errors.hpp>
#include <osago/common/utf8.hpp>

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace osago::config {

/// How a service's configuration is overridden from the environment: one
/// scheme, read where the file is read and checked by the same rules.
///
/// With a prefix every key has a variable: key `quotes.deadline_seconds` under
/// prefix OSAGO_AGGREGATOR is OSAGO_AGGREGATOR__QUOTES__DEADLINE_SECONDS (upper
/// case, "__" between levels), and a variable with the prefix that names no key
/// is an error. A few keys deployments set most also have a short name (e.g.
/// OSAGO_PG_DSN for `postgres.dsn`); setting both names to different values is
/// an error.
///
/// A value is taken as written: a string verbatim (a `#` in a password is part
/// of it, not a comment), a number or boolean as YAML reads that one scalar
/// (`45`, `0.5`, `true`; `45 # x` is an error), a list in YAML flow form
/// (`[a, b]`, without `#`).
struct EnvOverrides {
  std::string prefix;                              ///< empty: no generic names
  std::map<std::string, std::string> short_names;  ///< qualified key -> variable
};

/// A strict view of one YAML mapping: every key read is remembered and
/// finish() rejects the keys nobody read, so a typo is a start-up error
/// instead of a silently ignored setting. Errors name the file and the full key.
/// Values may be overridden from the environment (EnvOverrides).
class Section {
 public:
  struct Environment {
    EnvOverrides overrides;
    std::set<std::string> consulted;
  };

  Section(YAML::Node node, std::string file, std::string path, std::shared_ptr<Environment> env = nullptr);

  /// Loads `file` and returns its root mapping, with `overrides` from the
  /// environment (none by default). Throws ConfigError.
  static Section loadFile(const std::string& file, EnvOverrides overrides = {});
  /// The same from `text` already read (errors name `file`), with no overrides.
  static Section loadText(const std::string& text, const std::string& file);

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
    if (auto over = override(key)) {
      try {
        return overrideValue<T>(over->second);
      } catch (const YAML::Exception& e) {
        throw ConfigError("environment variable " + over->first, "",
                          "has the wrong type for " + qualified(key) + ": '" + utf8::clip(over->second, 64) +
                              (over->second.size() > 64 ? "…" : "") + "' (" + e.msg + ")");
      }
    }
    YAML::Node n = lookup(key);
    if (!n || n.IsNull()) return std::nullopt;
    T value;
    try {
      value = n.as<T>();
    } catch (const YAML::Exception& e) {
      throw ConfigError(file_, qualified(key), "has the wrong type (" + std::string(e.what()) + ")");
    }
    // yaml-cpp's escapes ("\xA0" in a quoted string) can make bytes that are not UTF-8.
    if constexpr (std::is_same_v<T, std::string>) {
      if (!utf8::valid(value)) throw ConfigError(file_, qualified(key), "is not valid UTF-8");
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      for (const auto& item : value)
        if (!utf8::valid(item)) throw ConfigError(file_, qualified(key), "is not valid UTF-8");
    }
    return value;
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
  /// The variable overriding `key` and its value, if one is set (non-empty).
  std::optional<std::pair<std::string, std::string>> override(const std::string& key);
  template <typename T>
  static T overrideValue(const std::string& v) {
    if constexpr (std::is_same_v<T, std::string>) {
      return v;
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      if (v.find('#') != std::string::npos) throw YAML::Exception(YAML::Mark::null_mark(), "a list here may not contain '#'");
      // A flat list of scalars: no nesting for the parser to recurse into (a deep one would overflow its stack).
      if (v.find_first_of("{}") != std::string::npos || v.find('[', v.find('[') + 1) != std::string::npos)
        throw YAML::Exception(YAML::Mark::null_mark(), "expected a flat list such as [a, b]");
      YAML::Node n = YAML::Load(v);
      if (!n.IsSequence()) throw YAML::Exception(YAML::Mark::null_mark(), "expected a list such as [a, b]");
      return n.as<T>();
    } else {
      return YAML::Node(v).as<T>();  // one scalar, as written
    }
  }

  /// The node under `key`, through yaml-cpp's const operator[]: the non-const
  /// one adds an undefined entry to the document for every key it misses.
  YAML::Node lookup(const std::string& key) const {
    const YAML::Node& doc = node_;
    return doc[key];
  }

  YAML::Node node_;
  std::string file_;
  std::string path_;
  std::set<std::string> seen_;
  std::shared_ptr<Environment> env_;
};

/// Returns the environment variable `name` if it is set and non-empty (for
/// values that are no configuration key, such as secrets).
std::optional<std::string> env(const char* name);

/// A key from the environment: `current` from the variable `name`, and
/// `accepted`, the other key of a rotation, from `name`_ACCEPTED (docs/operations.md).
struct RotatingSecret {
  std::string current;
  std::string accepted;  ///< empty outside a rotation
};

/// Reads `name` and `name`_ACCEPTED, each at least `min_length` characters;
/// `purpose` says what the key is for in the error. Unset `name` is an error
/// when `required`, else gives an empty secret (and then _ACCEPTED is an error).
RotatingSecret rotatingSecret(const std::string& name, std::size_t min_length, const std::string& purpose, bool required);

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

/// How many connections a service serves at once and how long a client may
/// take: `max_connections`, `request_timeout_ms` and
/// `max_connections_per_address` of its `listen` section (docs/configuration.md).
struct ConnectionBounds {
  int max_connections = 64;                         ///< HTTP threads (1–4096); twice as many may wait
  std::chrono::milliseconds request_timeout{10000};  ///< headers and body within this (100–120000 ms)
  int max_connections_per_address = 0;              ///< one client address at most (0: no cap)
  int max_pending_connections = 4096;               ///< waiting for their request head, without a thread (16–100000)
};
/// Reads them from `listen` with `defaults`; throws ConfigError naming the key.
ConnectionBounds readConnectionBounds(Section& listen, ConnectionBounds defaults);

/// The short names every service's logging keys have: OSAGO_LOG_LEVEL, OSAGO_LOG_FORMAT.
std::map<std::string, std::string> loggingShortNames();

/// `log_level` and `log_format` of a service's root section, checked as
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
