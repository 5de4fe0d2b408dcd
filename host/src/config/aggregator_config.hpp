#pragma once

#include "store/pg.hpp"

#include "plugins/plugin_manifest.hpp"
#include "plugins/plugin_worker.hpp"
#include "scheduling/admission_control.hpp"
#include "scheduling/poll_policy.hpp"

#include <osago/common/kafka_client.hpp>
#include <osago/common/yaml_config.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace osago::host {

/// Where plugins come from and how they are admitted.
struct PluginsConfig {
  std::string directory = "plugins";            ///< watched for *.so files and their manifests
  std::string cache_directory;                  ///< content-addressed copies that are really loaded
  std::vector<std::string> allowed_sha256;      ///< when non-empty, only plugins and manifests of these digests load
  bool require_allowed_sha256 = false;          ///< an empty allowed_sha256 is a start-up error (production)
  std::chrono::seconds rescan{2};               ///< how often the directory is looked at (0: only on request)
  bool enable_new = false;                      ///< the switch of a plugin never seen before
  /// Plugin ids the operator trusts to run inside the aggregator's process
  /// (no worker: faster, but a crash of theirs ends the aggregator). Empty by default.
  std::vector<std::string> in_process;
  WorkerLimits worker;                          ///< every other plugin runs in workers bounded so
  PartnerHttp partner_http;                     ///< how partner calls are made (defaults of every company)
};


/// How quote requests are worked on.
struct QuotesConfig {
  std::chrono::seconds deadline{60};             ///< per request, from creation
  int workers = 32;                              ///< calls in flight at once, over all companies
  std::chrono::milliseconds poll_initial{500};   ///< first re-poll delay
  std::chrono::milliseconds poll_max{5000};      ///< backoff cap
  std::chrono::seconds lease{5};                 ///< a claim lasts this long unless renewed (every lease/3 while a call runs)
  AdmissionConfig admission;                     ///< when new requests are refused (quotes.admission)
  PollLearningConfig poll_learning;              ///< where polls go once answer times are known (quotes.poll_learning)
};

/// How purchases (buying an offer) are worked on: by the quotes' workers, under their leases.
struct PurchasesConfig {
  std::chrono::seconds offer_validity{1800};     ///< an offer can be bought this long after it came (its validUntil)
  std::chrono::seconds deadline{1800};           ///< a purchase not issued (or declined) by then ends FAILED
  std::chrono::seconds paid_deadline{86400};     ///< once paid, the policy is awaited at least this long
  std::chrono::milliseconds poll_initial{1000};  ///< first re-poll delay while the partner checks it (PENDING, PAID)
  std::chrono::milliseconds poll_max{10000};     ///< backoff cap
  std::chrono::milliseconds payment_poll{2000};  ///< while the buyer is on the payment page
};

/// How long finished work is kept.
struct RetentionConfig {
  std::chrono::hours finished_requests{24};      ///< finished requests, their companies and idempotency keys
  std::chrono::minutes published_events{60};    ///< outbox events already on Kafka
  std::chrono::seconds sweep_interval{60};       ///< how often an instance looks for what to remove
};

/// The whole configuration of osago-aggregator (config/osago-aggregator.yaml).
struct AggregatorConfig {
  std::string listen_host = "127.0.0.1";
  int listen_port = 8081;
  std::string log_level = "information";
  std::string log_format = "json";               ///< json (JSON Lines) or text
  std::string postgres_dsn = "host=127.0.0.1 port=55432 dbname=osago user=osago";
  int postgres_pool_size = 40;      ///< connections of the background work: partner calls, outbox, switches, health
  /// Background users of the pool beside the workers: the dispatcher, the
  /// outbox relay, the retention sweeper, the switch refresher, the health reporter.
  static constexpr int kPoolUsersBesideWorkers = 5;
  pg::Settings postgres_settings;   ///< statement, lock and idle-in-transaction timeouts
  /// The lease keeper's bounds: a renewal that does not answer within a third
  /// of a lease is given up and tried again while the lease still holds.
  pg::Settings leaseKeeperSettings() const;
  int postgres_api_pool_size = 8;   ///< connections of the REST API alone, so that busy workers never make a create wait
  kafka::ClientSettings kafka;  ///< brokers and how they are reached
  /// HTTP threads, the request deadline, the cap per client address (core-app's instances).
  config::ConnectionBounds connections{.max_connections = 64};
  std::string kafka_topic = "osago.quote-events";
  bool kafka_create_topic = false;  ///< create the topic if missing (development; production topics come from the operator)
  PluginsConfig plugins;
  std::string admin_token;                       ///< from OSAGO_ADMIN_TOKEN; empty: admin API refuses everyone
  std::string admin_token_accepted;              ///< OSAGO_ADMIN_TOKEN_ACCEPTED: also admitted (rotation)
  /// OSAGO_SERVICE_TOKEN_SECRET (+ _ACCEPTED): verifies the service tokens of /osago/* (required).
  config::RotatingSecret service_token;
  std::string admin_web_root = "web";            ///< the operators' admin page (host/web), relative to the config file
  QuotesConfig quotes;
  PurchasesConfig purchases;
  RetentionConfig retention;

  /// Parses `file` (unknown keys are errors), then applies the environment
  /// overrides listed in docs/configuration.md. Throws ConfigError.
  static AggregatorConfig load(const std::string& file);
};

}  // namespace osago::host
