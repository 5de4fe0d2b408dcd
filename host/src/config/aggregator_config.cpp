#include "config/aggregator_config.hpp"

#include <osago/common/kafka_client.hpp>
#include <osago/common/yaml_config.hpp>

#include <cstdlib>
#include <unistd.h>

namespace osago::host {


pg::Settings AggregatorConfig::leaseKeeperSettings() const {
  pg::Settings s = postgres_settings;
  auto third = std::chrono::duration_cast<std::chrono::milliseconds>(quotes.lease) / 3;
  s.statement_timeout = third * 2 / 3;
  s.lock_timeout = std::min(s.lock_timeout, s.statement_timeout);
  s.answer_margin = third / 3;
  return s;
}

AggregatorConfig AggregatorConfig::load(const std::string& file) {
  auto short_names = config::loggingShortNames();
  short_names.insert({{"listen.port", "OSAGO_AGGREGATOR_PORT"},
                      {"postgres.dsn", "OSAGO_PG_DSN"},
                      {"plugins.directory", "OSAGO_PLUGIN_DIR"},
                      {"quotes.deadline_seconds", "OSAGO_QUOTE_DEADLINE_SECONDS"}});
  short_names.merge(kafka::configShortNames());
  auto root = config::Section::loadFile(file, {"OSAGO_AGGREGATOR", std::move(short_names)});
  AggregatorConfig cfg;

  auto listen = config::readListen(
      root, cfg.listen_port, [&](config::Section& s) { cfg.connections = config::readConnectionBounds(s, cfg.connections); });
  cfg.listen_host = listen.host;
  cfg.listen_port = listen.port;
  auto logs = config::readLogging(root);
  cfg.log_level = logs.level;
  cfg.log_format = logs.format;

  auto pg = root.child("postgres");
  cfg.postgres_dsn = pg.get<std::string>("dsn", cfg.postgres_dsn);
  cfg.postgres_pool_size = pg.get<int>("pool_size", cfg.postgres_pool_size);
  cfg.postgres_api_pool_size = pg.get<int>("api_pool_size", cfg.postgres_api_pool_size);
  auto& bounds = cfg.postgres_settings;
  bounds.statement_timeout = std::chrono::milliseconds(pg.get<int>("statement_timeout_ms", 10000));
  bounds.lock_timeout = std::chrono::milliseconds(pg.get<int>("lock_timeout_ms", 3000));
  bounds.idle_in_transaction = std::chrono::milliseconds(pg.get<int>("idle_in_transaction_timeout_ms", 10000));
  pg.finish();
  if (bounds.statement_timeout.count() < 100 || bounds.statement_timeout.count() > 600000)
    throw ConfigError(file, "postgres.statement_timeout_ms", "must be between 100 and 600000");
  if (bounds.lock_timeout.count() < 10 || bounds.lock_timeout > bounds.statement_timeout)
    throw ConfigError(file, "postgres.lock_timeout_ms", "must be at least 10 and at most postgres.statement_timeout_ms");
  if (bounds.idle_in_transaction.count() < 100 || bounds.idle_in_transaction.count() > 600000)
    throw ConfigError(file, "postgres.idle_in_transaction_timeout_ms", "must be between 100 and 600000");

  auto kafka = root.child("kafka");
  cfg.kafka = kafka::readClientSettings(kafka, "osago-aggregator");
  cfg.kafka_topic = kafka.get<std::string>("topic", cfg.kafka_topic);
  cfg.kafka_create_topic = kafka.get<bool>("create_topic", cfg.kafka_create_topic);
  kafka.finish();

  auto plugins = root.child("plugins");
  cfg.plugins.directory = plugins.get<std::string>("directory", cfg.plugins.directory);
  cfg.plugins.cache_directory = plugins.get<std::string>("cache_directory", "");
  cfg.plugins.allowed_sha256 = plugins.get<std::vector<std::string>>("allowed_sha256", {});
  cfg.plugins.require_allowed_sha256 = plugins.get<bool>("require_allowed_sha256", false);
  for (const auto& digest : cfg.plugins.allowed_sha256)
    if (digest.size() != 64 || digest.find_first_not_of("0123456789abcdef") != std::string::npos)
      throw ConfigError(file, "plugins.allowed_sha256",
                        "'" + digest.substr(0, 80) + "' is not a SHA-256 in lower-case hex (osago-plugin-check --digest prints them)");
  if (cfg.plugins.require_allowed_sha256 && cfg.plugins.allowed_sha256.empty())
    throw ConfigError(file, "plugins.allowed_sha256",
                      "is empty while plugins.require_allowed_sha256 is on: list the digests of every plugin and its "
                      "manifest you admit (osago-plugin-check --digest <plugin.so> prints both), or set "
                      "plugins.require_allowed_sha256: false to admit whatever the plugin directory's owner installs");
  cfg.plugins.rescan = std::chrono::seconds(plugins.get<int>("rescan_seconds", 2));
  cfg.plugins.enable_new = plugins.get<bool>("enable_new", false);
  cfg.plugins.in_process = plugins.get<std::vector<std::string>>("in_process", {});
  auto partner_http = plugins.child("partner_http");
  auto& ph = cfg.plugins.partner_http;
  ph.tls.ca_file = partner_http.get<std::string>("ca_file", "");
  if (!ph.tls.ca_file.empty()) ph.tls.ca_file = config::pathFrom(file, ph.tls.ca_file);
  int max_response_kb = partner_http.get<int>("max_response_kb", 4096);
  if (max_response_kb < 1 || max_response_kb > 65536)
    throw ConfigError(file, "plugins.partner_http.max_response_kb", "must be between 1 and 65536");
  ph.max_response_bytes = static_cast<std::size_t>(max_response_kb) << 10;
  ph.plain_http_to_loopback = partner_http.get<bool>("plain_http_to_loopback", false);
  partner_http.finish();
  auto worker = plugins.child("worker");
  auto& w = cfg.plugins.worker;
  w.binary = worker.get<std::string>("binary", "");
  w.memory_bytes = static_cast<std::size_t>(worker.get<int>("memory_mb", 512)) << 20;
  w.max_open_files = worker.get<int>("max_open_files", w.max_open_files);
  w.load_timeout = std::chrono::milliseconds(worker.get<int>("load_timeout_ms", 5000));
  w.restart_initial = std::chrono::milliseconds(worker.get<int>("restart_initial_ms", 250));
  w.restart_max = std::chrono::milliseconds(worker.get<int>("restart_max_ms", 30000));
  w.max_reply_bytes = static_cast<std::size_t>(worker.get<int>("max_reply_kb", 1024)) << 10;
  w.sandbox = worker.get<bool>("sandbox", true);
  worker.finish();
  plugins.finish();
  if ((w.memory_bytes >> 20) < 32 || (w.memory_bytes >> 20) > 65536)
    throw ConfigError(file, "plugins.worker.memory_mb", "must be between 32 and 65536");
  if (w.max_open_files < 8 || w.max_open_files > 65536)
    throw ConfigError(file, "plugins.worker.max_open_files", "must be between 8 and 65536");
  if (w.load_timeout.count() < 100 || w.load_timeout.count() > 120000)
    throw ConfigError(file, "plugins.worker.load_timeout_ms", "must be between 100 and 120000");
  if (w.restart_initial.count() < 10 || w.restart_max < w.restart_initial || w.restart_max.count() > 3600000)
    throw ConfigError(file, "plugins.worker.restart_initial_ms",
                      "must be at least 10 and at most restart_max_ms (itself at most 3600000)");
  if ((w.max_reply_bytes >> 10) < 1 || (w.max_reply_bytes >> 10) > 16384)
    throw ConfigError(file, "plugins.worker.max_reply_kb", "must be between 1 and 16384");
  if (cfg.plugins.rescan.count() < 0 || cfg.plugins.rescan.count() > 3600)
    throw ConfigError(file, "plugins.rescan_seconds", "must be between 0 (never) and 3600");
  for (auto& digest : cfg.plugins.allowed_sha256) {
    if (digest.size() != 64 || digest.find_first_not_of("0123456789abcdef") != std::string::npos)
      throw ConfigError(file, "plugins.allowed_sha256", "'" + digest + "' is not a lower-case hex SHA-256");
  }

  auto quotes = root.child("quotes");
  cfg.quotes.deadline = std::chrono::seconds(quotes.get<int>("deadline_seconds", 60));
  cfg.quotes.workers = quotes.get<int>("workers", cfg.quotes.workers);
  cfg.quotes.poll_initial = std::chrono::milliseconds(quotes.get<int>("poll_initial_ms", 500));
  cfg.quotes.poll_max = std::chrono::milliseconds(quotes.get<int>("poll_max_ms", 5000));
  cfg.quotes.lease = std::chrono::seconds(quotes.get<int>("lease_seconds", 5));
  auto admission = quotes.child("admission");
  auto& shed = cfg.quotes.admission;
  shed.max_backlog = std::chrono::milliseconds(admission.get<int>("max_backlog_ms", static_cast<int>(shed.max_backlog.count())));
  shed.max_pool_wait =
      std::chrono::milliseconds(admission.get<int>("max_pool_wait_ms", static_cast<int>(shed.max_pool_wait.count())));
  admission.finish();
  auto learning = quotes.child("poll_learning");
  auto& learn = cfg.quotes.poll_learning;
  learn.enabled = learning.get<bool>("enabled", learn.enabled);
  learn.quantile = learning.get<double>("quantile", learn.quantile);
  learn.max_gap = std::chrono::milliseconds(learning.get<int>("max_gap_ms", static_cast<int>(learn.max_gap.count())));
  learn.min_samples = learning.get<int>("min_samples", learn.min_samples);
  learning.finish();
  quotes.finish();
  if (!(learn.quantile >= 0.05 && learn.quantile <= 0.95))
    throw ConfigError(file, "quotes.poll_learning.quantile", "must be between 0.05 and 0.95");
  if (learn.max_gap.count() < 100 || learn.max_gap.count() > 60000)
    throw ConfigError(file, "quotes.poll_learning.max_gap_ms", "must be between 100 and 60000");
  if (learn.min_samples < 1 || learn.min_samples > 256)
    throw ConfigError(file, "quotes.poll_learning.min_samples", "must be between 1 and 256");
  if (shed.max_backlog.count() < 0 || shed.max_backlog.count() > 600000)
    throw ConfigError(file, "quotes.admission.max_backlog_ms", "must be between 0 (never refuse) and 600000");
  if (shed.max_pool_wait.count() < 0 || shed.max_pool_wait.count() > 60000)
    throw ConfigError(file, "quotes.admission.max_pool_wait_ms", "must be between 0 (never refuse) and 60000");
  if (cfg.quotes.deadline.count() < 1 || cfg.quotes.deadline.count() > 600)
    throw ConfigError(file, "quotes.deadline_seconds", "must be between 1 and 600");
  if (cfg.quotes.lease.count() < 2 || cfg.quotes.lease.count() > 300)
    throw ConfigError(file, "quotes.lease_seconds", "must be between 2 and 300");
  if (cfg.quotes.workers < 1 || cfg.quotes.workers > 256)
    throw ConfigError(file, "quotes.workers", "must be between 1 and 256");

  auto purchases = root.child("purchases");
  auto& buy = cfg.purchases;
  buy.offer_validity = std::chrono::seconds(purchases.get<int>("offer_validity_seconds", 1800));
  buy.deadline = std::chrono::seconds(purchases.get<int>("deadline_seconds", 1800));
  buy.paid_deadline = std::chrono::seconds(purchases.get<int>("paid_deadline_seconds", 86400));
  buy.poll_initial = std::chrono::milliseconds(purchases.get<int>("poll_initial_ms", 1000));
  buy.poll_max = std::chrono::milliseconds(purchases.get<int>("poll_max_ms", 10000));
  buy.payment_poll = std::chrono::milliseconds(purchases.get<int>("payment_poll_ms", 2000));
  purchases.finish();
  if (buy.offer_validity.count() < 10 || buy.offer_validity.count() > 7 * 86400)
    throw ConfigError(file, "purchases.offer_validity_seconds", "must be between 10 and 604800");
  if (buy.deadline.count() < 10 || buy.deadline.count() > 86400)
    throw ConfigError(file, "purchases.deadline_seconds", "must be between 10 and 86400");
  if (buy.paid_deadline.count() < 60 || buy.paid_deadline.count() > 30 * 86400)
    throw ConfigError(file, "purchases.paid_deadline_seconds", "must be between 60 and 2592000");
  if (buy.poll_initial.count() < 100 || buy.poll_initial.count() > 60000)
    throw ConfigError(file, "purchases.poll_initial_ms", "must be between 100 and 60000");
  if (buy.poll_max < buy.poll_initial || buy.poll_max.count() > 600000)
    throw ConfigError(file, "purchases.poll_max_ms", "must be between purchases.poll_initial_ms and 600000");
  if (buy.payment_poll.count() < 100 || buy.payment_poll.count() > 60000)
    throw ConfigError(file, "purchases.payment_poll_ms", "must be between 100 and 60000");

  auto admin = root.child("admin");
  cfg.admin_web_root = admin.get<std::string>("web_root", cfg.admin_web_root);
  admin.finish();

  auto retention = root.child("retention");
  cfg.retention.finished_requests = std::chrono::hours(retention.get<int>("finished_requests_hours", 24));
  cfg.retention.published_events = std::chrono::minutes(retention.get<int>("published_events_minutes", 60));
  cfg.retention.sweep_interval = std::chrono::seconds(retention.get<int>("sweep_seconds", 60));
  retention.finish();
  if (cfg.retention.finished_requests.count() < 1 || cfg.retention.finished_requests.count() > 24 * 366)
    throw ConfigError(file, "retention.finished_requests_hours", "must be between 1 and 8784");
  if (cfg.retention.published_events.count() < 1 || cfg.retention.published_events.count() > 60 * 24 * 31)
    throw ConfigError(file, "retention.published_events_minutes", "must be between 1 and 44640");
  if (cfg.retention.sweep_interval.count() < 1 || cfg.retention.sweep_interval.count() > 3600)
    throw ConfigError(file, "retention.sweep_seconds", "must be between 1 and 3600");

  if (cfg.postgres_pool_size < 2 || cfg.postgres_pool_size > 500)
    throw ConfigError(file, "postgres.pool_size", "must be between 2 and 500");
  if (cfg.postgres_api_pool_size < 1 || cfg.postgres_api_pool_size > 500)
    throw ConfigError(file, "postgres.api_pool_size", "must be between 1 and 500");
  // Every worker may record at once beside the other background users: with
  // fewer connections a worker waits for one, and a submit's outcome waiting
  // past its lease is sent again by another instance.
  if (int need = cfg.quotes.workers + AggregatorConfig::kPoolUsersBesideWorkers; cfg.postgres_pool_size < need)
    throw ConfigError(file, "postgres.pool_size",
                      "must be at least quotes.workers + " + std::to_string(AggregatorConfig::kPoolUsersBesideWorkers) +
                          " (" + std::to_string(need) + "): every worker may record at once beside the dispatcher, "
                          "the outbox relay, the sweeper, the switch refresher and the health reporter");

  root.finish();

  // Secrets that are no configuration key come from the environment only.
  auto admin_token = config::rotatingSecret("OSAGO_ADMIN_TOKEN", 16, "the operators' token of the admin API", false);
  cfg.admin_token = admin_token.current;
  cfg.admin_token_accepted = admin_token.accepted;
  cfg.service_token = config::rotatingSecret(
      "OSAGO_SERVICE_TOKEN_SECRET", 32,
      "it verifies the service tokens core-app calls /osago/* with; core-app has the same key (./osago up generates one)",
      true);

  cfg.plugins.directory = config::pathFrom(file, cfg.plugins.directory);
  cfg.plugins.worker.binary =
      cfg.plugins.worker.binary.empty() ? defaultWorkerBinary() : config::pathFrom(file, cfg.plugins.worker.binary);
  cfg.admin_web_root = config::pathFrom(file, cfg.admin_web_root);
  // Never a shared default such as /tmp: the copies there are what runs.
  if (cfg.plugins.cache_directory.empty()) {
    std::string state = config::env("STATE_DIRECTORY").value_or("");  // systemd's StateDirectory=
    if (auto colon = state.find(':'); colon != std::string::npos) state = state.substr(0, colon);
    if (state.empty())
      throw ConfigError(file, "plugins.cache_directory",
                        "must be set: a directory of this service's own (created 0700) for the plugin copies that are "
                        "loaded; there is no /tmp default");
    cfg.plugins.cache_directory = state + "/plugin-cache";
  } else {
    cfg.plugins.cache_directory = config::pathFrom(file, cfg.plugins.cache_directory);
  }
  return cfg;
}

}  // namespace osago::host
