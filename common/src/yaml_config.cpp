#include <osago/common/yaml_config.hpp>

#include <osago/common/logging.hpp>
#include <osago/common/utf8.hpp>

#include <cctype>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

namespace osago::config {

Section::Section(YAML::Node node, std::string file, std::string path, std::shared_ptr<Environment> env)
    : node_(std::move(node)), file_(std::move(file)), path_(std::move(path)), env_(std::move(env)) {}

namespace {

/// The top-level mapping of a YAML document, or ConfigError naming `file`.
YAML::Node parseRoot(const std::string& text, const std::string& file) {
  // yaml-cpp takes any bytes; every value ends up in JSON (settings, names, messages).
  if (!utf8::valid(text)) throw ConfigError(file, "", "is not valid UTF-8");
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(file, "", std::string("is not valid YAML: ") + e.what());
  }
  if (!root.IsMap()) throw ConfigError(file, "", "must be a YAML mapping at the top level");
  return root;
}

}  // namespace

std::string Section::envName(const std::string& key) const {
  if (!env_ || env_->overrides.prefix.empty()) return "";
  std::string name = env_->overrides.prefix + "__";
  for (char c : qualified(key)) {
    if (c == '.') name += "__";
    else name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

std::optional<std::pair<std::string, std::string>> Section::override(const std::string& key) {
  if (!env_) return std::nullopt;
  std::optional<std::pair<std::string, std::string>> found;
  if (auto name = envName(key); !name.empty()) {
    env_->consulted.insert(name);
    if (auto v = env(name.c_str())) found.emplace(name, *v);
  }
  if (auto it = env_->overrides.short_names.find(qualified(key)); it != env_->overrides.short_names.end()) {
    if (auto v = env(it->second.c_str())) {
      if (found && found->second != *v)
        throw ConfigError("environment variable " + it->second, "",
                          "disagrees with " + found->first + " (both set " + qualified(key) + "): set one of them");
      if (!found) found.emplace(it->second, *v);
    }
  }
  return found;
}

Section Section::loadFile(const std::string& file, EnvOverrides overrides) {
  constexpr std::uintmax_t kMaxBytes = 1u << 20;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) throw ConfigError(file, "", "cannot be read (does it exist?)");
  if (std::filesystem::file_size(file, ec) > kMaxBytes) throw ConfigError(file, "", "is larger than 1 MiB");
  std::ifstream in(file, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.is_open() || in.bad()) throw ConfigError(file, "", "cannot be read (does it exist?)");
  auto root = parseRoot(text, file);
  bool any = !overrides.prefix.empty() || !overrides.short_names.empty();
  return Section(root, file, "", any ? std::make_shared<Environment>(Environment{std::move(overrides), {}}) : nullptr);
}

Section Section::loadText(const std::string& text, const std::string& file) {
  return Section(parseRoot(text, file), file, "", nullptr);
}

bool Section::has(const std::string& key) const {
  if (!node_.IsMap()) return false;
  YAML::Node n = lookup(key);
  return n && !n.IsNull();
}

Section Section::child(const std::string& key) {
  seen_.insert(key);
  YAML::Node n = lookup(key);
  if (n && !n.IsNull() && !n.IsMap()) throw ConfigError(file_, qualified(key), "must be a mapping");
  return Section(n && !n.IsNull() ? n : YAML::Node(YAML::NodeType::Map), file_, qualified(key), env_);
}

std::vector<Section> Section::children(const std::string& key) {
  seen_.insert(key);
  std::vector<Section> out;
  YAML::Node n = lookup(key);
  if (!n || n.IsNull()) return out;
  if (!n.IsSequence()) throw ConfigError(file_, qualified(key), "must be a list");
  for (std::size_t i = 0; i < n.size(); ++i) {
    std::string path = qualified(key) + "[" + std::to_string(i) + "]";
    if (!n[i].IsMap()) throw ConfigError(file_, path, "must be a mapping");
    out.emplace_back(n[i], file_, path);
  }
  return out;
}

YAML::Node Section::raw(const std::string& key) {
  seen_.insert(key);
  return lookup(key);
}

void Section::finish() const {
  if (node_.IsMap()) {
    for (const auto& kv : node_) {
      if (!kv.first.IsScalar()) throw ConfigError(file_, path_, "has a key that is not a plain name");
      const std::string& key = kv.first.Scalar();
      if (!seen_.count(key)) throw ConfigError(file_, qualified(key), "unknown key (check the spelling; see docs/configuration.md)");
    }
  }
  // The root, finished last, also checks the overrides: a misspelt variable is an error too.
  if (!path_.empty() || !env_ || env_->overrides.prefix.empty()) return;
  std::string start = env_->overrides.prefix + "__";
  for (char** e = environ; *e; ++e) {
    std::string entry = *e;
    std::string name = entry.substr(0, entry.find('='));
    if (name.rfind(start, 0) == 0 && !env_->consulted.count(name))
      throw ConfigError("environment variable " + name, "", "names no configuration key (see docs/configuration.md)");
  }
}

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  if (!utf8::valid(v)) throw ConfigError("environment variable " + std::string(name), "", "is not valid UTF-8");
  return std::string(v);
}

RotatingSecret rotatingSecret(const std::string& name, std::size_t min_length, const std::string& purpose, bool required) {
  RotatingSecret out;
  const std::string accepted_name = name + "_ACCEPTED";
  const std::string at_least = "at least " + std::to_string(min_length) + " characters";
  if (auto v = env(name.c_str())) out.current = *v;
  if (out.current.empty() && required)
    throw ConfigError("environment variable " + name, "", "must be set to " + at_least + ": " + purpose);
  if (!out.current.empty() && out.current.size() < min_length)
    throw ConfigError("environment variable " + name, "", "must be " + at_least + ": " + purpose);
  if (auto v = env(accepted_name.c_str())) {
    if (v->size() < min_length || out.current.empty())
      throw ConfigError("environment variable " + accepted_name, "",
                        "must be " + at_least + ", beside " + name + " (the other key of a rotation), or unset");
    out.accepted = *v;
  }
  return out;
}

std::map<std::string, std::string> loggingShortNames() {
  return {{"log_level", "OSAGO_LOG_LEVEL"}, {"log_format", "OSAGO_LOG_FORMAT"}};
}

Logging readLogging(Section& root) {
  Logging l;
  l.level = root.get<std::string>("log_level", l.level);
  l.format = root.get<std::string>("log_format", l.format);
  auto check = [&](const char* key, void (*checker)(const std::string&), const std::string& value) {
    try {
      checker(value);
    } catch (const Error& e) {
      throw ConfigError(root.file(), key, e.what());
    }
  };
  check("log_level", &logging::checkLevel, l.level);
  check("log_format", &logging::checkFormat, l.format);
  return l;
}

ConnectionBounds readConnectionBounds(Section& listen, ConnectionBounds defaults) {
  ConnectionBounds b = defaults;
  b.max_connections = listen.get<int>("max_connections", b.max_connections);
  if (b.max_connections < 1 || b.max_connections > 4096)
    throw ConfigError(listen.file(), listen.qualified("max_connections"), "must be 1 to 4096");
  b.request_timeout = std::chrono::milliseconds(listen.get<int>("request_timeout_ms", static_cast<int>(b.request_timeout.count())));
  if (b.request_timeout.count() < 100 || b.request_timeout.count() > 120000)
    throw ConfigError(listen.file(), listen.qualified("request_timeout_ms"), "must be 100 to 120000");
  b.max_connections_per_address = listen.get<int>("max_connections_per_address", b.max_connections_per_address);
  if (b.max_connections_per_address < 0 || b.max_connections_per_address > b.max_connections)
    throw ConfigError(listen.file(), listen.qualified("max_connections_per_address"),
                      "must be 0 (no cap) to listen.max_connections (" + std::to_string(b.max_connections) + ")");
  b.max_pending_connections = listen.get<int>("max_pending_connections", b.max_pending_connections);
  if (b.max_pending_connections < 16 || b.max_pending_connections > 100000)
    throw ConfigError(listen.file(), listen.qualified("max_pending_connections"), "must be 16 to 100000");
  return b;
}

std::string pathFrom(const std::string& file, const std::string& path) {
  std::filesystem::path p(path);
  return p.is_relative() ? (std::filesystem::path(file).parent_path() / p).lexically_normal().string() : path;
}

}  // namespace osago::config
