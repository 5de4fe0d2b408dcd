#include "config/core_config.hpp"

#include <osago/common/kafka_client.hpp>
#include <osago/common/yaml_config.hpp>


namespace osago::core {

CoreConfig CoreConfig::load(const std::string& file) {
  auto short_names = config::loggingShortNames();
  short_names.insert({{"listen.port", "OSAGO_CORE_PORT"},
                      {"aggregator.url", "OSAGO_AGGREGATOR_URL"},
                      {"client_info.url", "OSAGO_CLIENT_INFO_URL"}});
  short_names.merge(kafka::configShortNames());
  auto root = config::Section::loadFile(file, {"OSAGO_CORE", std::move(short_names)});
  CoreConfig cfg;
  auto listen = config::readListen(
      root, cfg.listen_port, [&](config::Section& s) { cfg.connections = config::readConnectionBounds(s, cfg.connections); });
  cfg.listen_host = listen.host;
  cfg.listen_port = listen.port;
  auto logs = config::readLogging(root);
  cfg.log_level = logs.level;
  cfg.log_format = logs.format;

  // A service core-app depends on: its URL, a per-call timeout and a circuit breaker.
  auto downstream = [&](const char* key, std::string& url, std::chrono::milliseconds& timeout, BreakerConfig& breaker) {
    auto s = root.child(key);
    url = s.get<std::string>("url", url);
    timeout = std::chrono::milliseconds(s.get<int>("timeout_ms", static_cast<int>(timeout.count())));
    auto b = s.child("breaker");
    breaker = BreakerConfig::read(b, breaker);
    s.finish();
    if (timeout.count() < 10 || timeout.count() > 10000)
      throw ConfigError(file, std::string(key) + ".timeout_ms", "must be between 10 and 10000");
  };
  downstream("aggregator", cfg.aggregator_url, cfg.aggregator_timeout, cfg.aggregator_breaker);
  downstream("client_info", cfg.client_info_url, cfg.client_info_timeout, cfg.client_info_breaker);

  auto limits = root.child("limits");
  cfg.limits.user_per_second = limits.get<double>("user_requests_per_second", cfg.limits.user_per_second);
  cfg.limits.user_burst = limits.get<double>("user_burst", cfg.limits.user_burst);
  cfg.limits.per_second = limits.get<double>("requests_per_second", cfg.limits.per_second);
  cfg.limits.burst = limits.get<double>("burst", cfg.limits.burst);
  limits.finish();
  for (auto [key, v] : {std::pair{"limits.user_requests_per_second", cfg.limits.user_per_second},
                        std::pair{"limits.user_burst", cfg.limits.user_burst},
                        std::pair{"limits.requests_per_second", cfg.limits.per_second}, std::pair{"limits.burst", cfg.limits.burst}})
    if (v <= 0) throw ConfigError(file, key, "must be positive");
  if (cfg.limits.user_burst < 1 || cfg.limits.burst < 1) throw ConfigError(file, "limits", "bursts must be at least 1");

  auto kafka = root.child("kafka");
  cfg.kafka = kafka::readClientSettings(kafka, "core-app");
  cfg.kafka_topic = kafka.get<std::string>("topic", cfg.kafka_topic);
  kafka.finish();

  auto auth = root.child("auth");
  cfg.dev_login_enabled = auth.get<bool>("dev_login_enabled", false);
  cfg.token_ttl = std::chrono::seconds(auth.get<int>("token_ttl_seconds", 3600));
  auth.finish();

  auto web = root.child("web");
  cfg.web_root = web.get<std::string>("root", cfg.web_root);
  cfg.allowed_origins = web.get<std::vector<std::string>>("allowed_origins", {});
  for (const auto& origin : cfg.allowed_origins) {
    bool scheme = origin.rfind("https://", 0) == 0 || origin.rfind("http://", 0) == 0;
    if (!scheme || origin.find('/', origin.find("//") + 2) != std::string::npos || origin.size() > 256)
      throw ConfigError(file, "web.allowed_origins",
                        "'" + origin.substr(0, 80) + "' is not an origin: scheme://host[:port], no path");
  }
  cfg.https = web.get<bool>("https", false);
  web.finish();

  auto streams = root.child("streams");
  cfg.stream_heartbeat = std::chrono::seconds(streams.get<int>("heartbeat_seconds", 15));
  cfg.max_streams = streams.get<int>("max_streams", cfg.max_streams);
  if (cfg.max_streams < 1 || cfg.max_streams > 1'000'000)
    throw ConfigError(file, "streams.max_streams", "must be 1 to 1000000");
  cfg.stream_max_unsent_kb = streams.get<int>("max_unsent_kb", cfg.stream_max_unsent_kb);
  if (cfg.stream_max_unsent_kb < 16 || cfg.stream_max_unsent_kb > 65536)
    throw ConfigError(file, "streams.max_unsent_kb", "must be 16 to 65536");
  cfg.stream_max_total_unsent_mb = streams.get<int>("max_total_unsent_mb", cfg.stream_max_total_unsent_mb);
  if (cfg.stream_max_total_unsent_mb < 1 || cfg.stream_max_total_unsent_mb > 65536 ||
      cfg.stream_max_total_unsent_mb * 1024 < cfg.stream_max_unsent_kb)
    throw ConfigError(file, "streams.max_total_unsent_mb", "must be 1 to 65536 and at least streams.max_unsent_kb");
  cfg.max_streams_per_user = streams.get<int>("max_streams_per_user", cfg.max_streams_per_user);
  if (cfg.max_streams_per_user < 1 || cfg.max_streams_per_user > cfg.max_streams)
    throw ConfigError(file, "streams.max_streams_per_user", "must be 1 to streams.max_streams");
  cfg.stream_read_budget_kb = streams.get<int>("read_budget_kb", cfg.stream_read_budget_kb);
  if (cfg.stream_read_budget_kb < 1 || cfg.stream_read_budget_kb > 16384)
    throw ConfigError(file, "streams.read_budget_kb", "must be 1 to 16384");
  cfg.stream_write_stall_ms = streams.get<int>("write_stall_ms", cfg.stream_write_stall_ms);
  if (cfg.stream_write_stall_ms < 1000 || cfg.stream_write_stall_ms > 600000)
    throw ConfigError(file, "streams.write_stall_ms", "must be 1000 to 600000");
  cfg.stream_send_buffer_kb = streams.get<int>("send_buffer_kb", cfg.stream_send_buffer_kb);
  if (cfg.stream_send_buffer_kb < 4 || cfg.stream_send_buffer_kb > 4096)
    throw ConfigError(file, "streams.send_buffer_kb", "must be 4 to 4096");
  cfg.stream_fanout_threads = streams.get<int>("fanout_threads", cfg.stream_fanout_threads);
  if (cfg.stream_fanout_threads < 0 || cfg.stream_fanout_threads > 16)
    throw ConfigError(file, "streams.fanout_threads", "must be 0 (the reactor alone) to 16");
  streams.finish();
  root.finish();

  // Secrets that are no configuration key come from the environment only.
  auto users = config::rotatingSecret("OSAGO_TOKEN_SECRET", 32, "it signs the users' tokens (./osago up generates one)", true);
  cfg.token_secret = users.current;
  cfg.token_secret_accepted = users.accepted;
  cfg.service_token_secret =
      config::rotatingSecret("OSAGO_SERVICE_TOKEN_SECRET", 32,
                             "it signs the service tokens core-app calls osago-aggregator with; the aggregator has the "
                             "same key (./osago up generates one)",
                             true)
          .current;

  cfg.web_root = config::pathFrom(file, cfg.web_root);
  return cfg;
}

}  // namespace osago::core
