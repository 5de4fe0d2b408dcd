#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace osago::host {

/// One insurance company the aggregator asks for quotes.
struct CompanyConfig {
  std::string id;                               ///< stable id used in the API and events
  std::string name;                             ///< shown to drivers
  std::string plugin;                           ///< plugin_id of the adapter that serves it
  bool enabled = true;
  std::chrono::milliseconds call_timeout{5000}; ///< cap of one partner HTTP call
  nlohmann::json settings = nlohmann::json::object();  ///< passed to the plugin's create(); ${ENV} expanded
};

/// How quote requests are worked on.
struct QuotesConfig {
  std::chrono::seconds deadline{60};             ///< per request, from creation
  int workers = 8;                               ///< threads calling partners
  std::chrono::milliseconds poll_initial{500};   ///< first re-poll delay
  std::chrono::milliseconds poll_max{5000};      ///< backoff cap
  std::chrono::seconds lease{15};                ///< how long a claimed work item stays ours
};

/// The whole configuration of osago-aggregator (config/osago-aggregator.yaml).
struct AggregatorConfig {
  std::string listen_host = "127.0.0.1";
  int listen_port = 8081;
  std::string log_level = "information";
  std::string postgres_dsn = "host=127.0.0.1 port=55432 dbname=osago user=osago";
  int postgres_pool_size = 16;
  std::string kafka_brokers = "127.0.0.1:19092";
  std::string kafka_topic = "osago.quote-events";
  std::string plugin_directory = "plugins";
  QuotesConfig quotes;
  std::vector<CompanyConfig> companies;

  /// Parses `file` (unknown keys are errors), then applies the environment
  /// overrides listed in docs/configuration.md. Throws ConfigError.
  static AggregatorConfig load(const std::string& file);
};

/// Expands ${NAME} and ${NAME:-default} in every string of `value` from the
/// environment. Throws ConfigError (naming `where`) for an unset variable without default.
nlohmann::json expandEnvironment(const nlohmann::json& value, const std::string& file, const std::string& where);

}  // namespace osago::host
