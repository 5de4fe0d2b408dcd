#include "config/aggregator_config.hpp"

#include <osago/common/yaml_config.hpp>

#include <filesystem>
#include <set>

namespace osago::host {
namespace {

nlohmann::json yamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      auto out = nlohmann::json::object();
      for (const auto& kv : node) out[kv.first.as<std::string>()] = yamlToJson(kv.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      auto out = nlohmann::json::array();
      for (const auto& item : node) out.push_back(yamlToJson(item));
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (node.Tag() == "!") return s;  // quoted: keep as string
      if (s == "true" || s == "false") return s == "true";
      try {
        std::size_t pos = 0;
        long long i = std::stoll(s, &pos);
        if (pos == s.size()) return i;
      } catch (const std::exception&) {
      }
      return s;
    }
    default:
      return nullptr;
  }
}

std::string expandString(const std::string& s, const std::string& file, const std::string& where) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    if (s.compare(i, 2, "${") != 0) {
      out.push_back(s[i++]);
      continue;
    }
    auto end = s.find('}', i);
    if (end == std::string::npos) throw ConfigError(file, where, "unterminated ${...} in '" + s + "'");
    std::string expr = s.substr(i + 2, end - i - 2);
    auto sep = expr.find(":-");
    std::string name = expr.substr(0, sep);
    auto value = config::env(name.c_str());
    if (value) {
      out += *value;
    } else if (sep != std::string::npos) {
      out += expr.substr(sep + 2);
    } else {
      throw ConfigError(file, where, "environment variable " + name + " is not set");
    }
    i = end + 1;
  }
  return out;
}

}  // namespace

nlohmann::json expandEnvironment(const nlohmann::json& value, const std::string& file, const std::string& where) {
  if (value.is_string()) return expandString(value.get<std::string>(), file, where);
  if (value.is_object()) {
    auto out = nlohmann::json::object();
    for (const auto& [k, v] : value.items()) out[k] = expandEnvironment(v, file, where + "." + k);
    return out;
  }
  if (value.is_array()) {
    auto out = nlohmann::json::array();
    for (const auto& v : value) out.push_back(expandEnvironment(v, file, where));
    return out;
  }
  return value;
}

AggregatorConfig AggregatorConfig::load(const std::string& file) {
  auto root = config::Section::loadFile(file);
  AggregatorConfig cfg;

  auto listen = config::readListen(root, cfg.listen_port);
  cfg.listen_host = listen.host;
  cfg.listen_port = listen.port;
  cfg.log_level = root.get<std::string>("log_level", cfg.log_level);

  auto pg = root.child("postgres");
  cfg.postgres_dsn = pg.get<std::string>("dsn", cfg.postgres_dsn);
  cfg.postgres_pool_size = pg.get<int>("pool_size", cfg.postgres_pool_size);
  pg.finish();

  auto kafka = root.child("kafka");
  cfg.kafka_brokers = kafka.get<std::string>("brokers", cfg.kafka_brokers);
  cfg.kafka_topic = kafka.get<std::string>("topic", cfg.kafka_topic);
  kafka.finish();

  auto plugins = root.child("plugins");
  cfg.plugin_directory = plugins.get<std::string>("directory", cfg.plugin_directory);
  plugins.finish();

  auto quotes = root.child("quotes");
  cfg.quotes.deadline = std::chrono::seconds(quotes.get<int>("deadline_seconds", 60));
  cfg.quotes.workers = quotes.get<int>("workers", cfg.quotes.workers);
  cfg.quotes.poll_initial = std::chrono::milliseconds(quotes.get<int>("poll_initial_ms", 500));
  cfg.quotes.poll_max = std::chrono::milliseconds(quotes.get<int>("poll_max_ms", 5000));
  cfg.quotes.lease = std::chrono::seconds(quotes.get<int>("lease_seconds", 15));
  quotes.finish();
  if (cfg.quotes.deadline.count() < 1 || cfg.quotes.deadline.count() > 600)
    throw ConfigError(file, "quotes.deadline_seconds", "must be between 1 and 600");
  if (cfg.quotes.workers < 1 || cfg.quotes.workers > 256)
    throw ConfigError(file, "quotes.workers", "must be between 1 and 256");

  if (cfg.postgres_pool_size < 2 || cfg.postgres_pool_size > 500)
    throw ConfigError(file, "postgres.pool_size", "must be between 2 and 500");

  std::set<std::string> ids;
  for (auto& c : root.children("companies")) {
    CompanyConfig company;
    company.id = c.require<std::string>("id");
    if (!ids.insert(company.id).second) throw ConfigError(file, c.qualified("id"), "duplicate company id '" + company.id + "'");
    company.name = c.require<std::string>("name");
    company.plugin = c.require<std::string>("plugin");
    company.enabled = c.get<bool>("enabled", true);
    company.call_timeout = std::chrono::milliseconds(c.get<int>("call_timeout_ms", 5000));
    if (company.call_timeout.count() < 100 || company.call_timeout > cfg.quotes.lease / 2)
      throw ConfigError(file, c.qualified("call_timeout_ms"),
                        "must be between 100 and half of quotes.lease_seconds (a call must end well inside its lease)");
    auto settings = c.raw("settings");
    if (settings && !settings.IsNull()) {
      if (!settings.IsMap()) throw ConfigError(file, c.qualified("settings"), "must be a mapping");
      company.settings = expandEnvironment(yamlToJson(settings), file, c.qualified("settings"));
    }
    c.finish();
    cfg.companies.push_back(std::move(company));
  }
  root.finish();
  if (cfg.companies.empty()) throw ConfigError(file, "companies", "at least one company is required");

  // Environment overrides (secrets such as the database password belong here, not in YAML).
  if (auto v = config::envInt("OSAGO_AGGREGATOR_PORT")) cfg.listen_port = *v;
  if (auto v = config::env("OSAGO_PG_DSN")) cfg.postgres_dsn = *v;
  if (auto v = config::env("OSAGO_KAFKA_BROKERS")) cfg.kafka_brokers = *v;
  if (auto v = config::env("OSAGO_KAFKA_TOPIC")) cfg.kafka_topic = *v;
  if (auto v = config::env("OSAGO_PLUGIN_DIR")) cfg.plugin_directory = *v;
  if (auto v = config::envInt("OSAGO_QUOTE_DEADLINE_SECONDS")) cfg.quotes.deadline = std::chrono::seconds(*v);
  if (auto v = config::env("OSAGO_LOG_LEVEL")) cfg.log_level = *v;

  // A relative plugin directory is relative to the config file.
  std::filesystem::path dir(cfg.plugin_directory);
  if (dir.is_relative()) cfg.plugin_directory = (std::filesystem::path(file).parent_path() / dir).lexically_normal().string();
  return cfg;
}

}  // namespace osago::host
