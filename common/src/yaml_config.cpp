#include <osago/common/yaml_config.hpp>

#include <cctype>
#include <unistd.h>

#include <charconv>

namespace osago::config {

Section::Section(YAML::Node node, std::string file, std::string path, std::shared_ptr<Environment> env)
    : node_(std::move(node)), file_(std::move(file)), path_(std::move(path)), env_(std::move(env)) {}

std::string Section::envName(const std::string& key) const {
  if (!env_) return "";
  std::string name = env_->prefix + "__";
  for (char c : qualified(key)) {
    if (c == '.') name += "__";
    else name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

Section Section::loadFile(const std::string& file, const std::string& env_prefix) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::BadFile&) {
    throw ConfigError(file, "", "cannot be read (does it exist?)");
  } catch (const YAML::Exception& e) {
    throw ConfigError(file, "", std::string("is not valid YAML: ") + e.what());
  }
  if (!root.IsMap()) throw ConfigError(file, "", "must be a YAML mapping at the top level");
  return Section(root, file, "", env_prefix.empty() ? nullptr : std::make_shared<Environment>(Environment{env_prefix, {}}));
}

bool Section::has(const std::string& key) const { return node_.IsMap() && node_[key] && !node_[key].IsNull(); }

Section Section::child(const std::string& key) {
  seen_.insert(key);
  YAML::Node n = node_[key];
  if (n && !n.IsNull() && !n.IsMap()) throw ConfigError(file_, qualified(key), "must be a mapping");
  return Section(n && !n.IsNull() ? n : YAML::Node(YAML::NodeType::Map), file_, qualified(key), env_);
}

std::vector<Section> Section::children(const std::string& key) {
  seen_.insert(key);
  std::vector<Section> out;
  YAML::Node n = node_[key];
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
  return node_[key];
}

void Section::finish() const {
  if (node_.IsMap()) {
    for (const auto& kv : node_) {
      auto key = kv.first.as<std::string>();
      if (!seen_.count(key)) throw ConfigError(file_, qualified(key), "unknown key (check the spelling; see docs/configuration.md)");
    }
  }
  // The root, finished last, also checks the overrides: a misspelt variable is an error too.
  if (!path_.empty() || !env_) return;
  std::string start = env_->prefix + "__";
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
  return std::string(v);
}

std::optional<int> envInt(const char* name) {
  auto v = env(name);
  if (!v) return std::nullopt;
  int out = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || ptr != v->data() + v->size())
    throw ConfigError(std::string("environment variable ") + name, "", "must be an integer, got '" + *v + "'");
  return out;
}

}  // namespace osago::config
