#pragma once

#include <osago/common/signed_tokens.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <sys/types.h>
#include <unistd.h>
#include <vector>

namespace osago::testing {

/// The real binaries (insurer simulator, osago-aggregator, core-app) started
/// for one test binary against the PostgreSQL and Kafka that ./osago test runs,
/// each stack with its own database, topic, ports and configuration files.
class TestStack {
 public:
  /// Starts everything; throws std::runtime_error with the log to read on failure.
  TestStack();
  ~TestStack();

  std::string coreUrl() const { return "http://127.0.0.1:" + std::to_string(core_port_); }
  std::string aggregatorUrl() const { return "http://127.0.0.1:" + std::to_string(aggregator_port_); }
  /// The simulator's control API (and its partner API over plain HTTP, which aggregators refuse).
  std::string simulatorUrl() const { return "http://127.0.0.1:" + std::to_string(simulator_port_); }
  /// The simulator's partner API over HTTPS, as the stack's manifests call it.
  std::string simulatorTlsUrl() const { return "https://127.0.0.1:" + std::to_string(simulator_tls_port_); }
  /// The stack's TLS material: ca.pem (trusted by its aggregators), partner.pem, rogue.pem (packaging/dev/dev-tls.sh).
  const std::string& tlsDir() const { return tls_dir_; }
  std::string clientInfoUrl() const { return "http://127.0.0.1:" + std::to_string(client_info_port_); }
  /// The plugin directory the aggregators watch (a copy of the bundled plugins with test manifests).
  const std::string& pluginDir() const { return plugin_dir_; }
  const std::string& adminToken() const { return admin_token_; }
  /// "Bearer <service token>" as core-app sends it to the aggregator, signed with the stack's service key.
  std::string serviceAuthorization() const;
  const std::string& serviceSecret() const { return service_secret_; }
  /// A user's token signed with the stack's secret that expires after `ttl` (the dev login gives 600 s).
  std::string issueToken(const std::string& user, std::chrono::seconds ttl) const;

  /// Starts another osago-aggregator instance on the same database and plugin
  /// directory (once) and returns its URL.
  std::string secondAggregatorUrl();
  /// Starts a second core-app instance (once), talking to the second aggregator
  /// and signing tokens with the same secret, and returns its URL.
  std::string secondCoreUrl();
  /// Stops the second instance (SIGTERM, as a rolling restart would), if it runs.
  void stopSecondAggregator();
  /// Stops the first aggregator instance with `signal` — SIGKILL as a crash would,
  /// SIGTERM as a rolling restart would — and waits until it has exited.
  void stopFirstAggregator(int signal);
  /// Starts the first aggregator instance again on its port.
  void restartFirstAggregator();
  const std::string& topic() const { return topic_; }
  const std::string& kafkaBrokers() const { return kafka_brokers_; }
  /// The environment that points a service at the broker's mutual-TLS listener as Kafka user
  /// `user` (osago-aggregator, osago-core-app), or with "rogue": a certificate for
  /// osago-aggregator from a CA the broker does not trust (packaging/dev/stack.sh start_kafka).
  static std::map<std::string, std::string> kafkaTlsEnv(const std::string& user);
  const std::string& logDir() const { return log_dir_; }

  /// Starts one more aggregator instance `name` on the stack's database with
  /// `env` added (e.g. a configuration override) and returns its URL.
  std::string startExtraAggregator(const std::string& name, const std::map<std::string, std::string>& env);
  /// Starts one more core-app instance `name` talking to `aggregator_url`, with `env`
  /// added (e.g. another service key), and returns its URL.
  std::string startExtraCore(const std::string& name, const std::string& aggregator_url,
                             const std::map<std::string, std::string>& env = {});
  /// The same without waiting until it is ready (for one that must not become ready).
  std::string spawnExtraCore(const std::string& name, const std::string& aggregator_url,
                             const std::map<std::string, std::string>& env = {});
  /// Starts one more simulator `name` with the stack's insurers whose HTTPS port shows
  /// `cert`/`key` (e.g. tlsDir() + "/rogue.pem"); returns its HTTPS base URL.
  std::string startExtraSimulator(const std::string& name, const std::string& cert, const std::string& key);
  /// Waits up to `timeout` for the process `name` to exit on its own; its wait
  /// status, or -1 if it still runs.
  int waitForExit(const std::string& name, std::chrono::seconds timeout);
  /// Stops a process the stack started with `signal` and waits for it.
  void stop(const std::string& name, int signal);
  const std::string& workDir() const { return work_dir_; }

  /// The pid of a process the stack started ("osago-aggregator", "core-app", ...); 0 if none.
  pid_t pidOf(const std::string& name) const;
  /// Drops `so` into the plugin directory as `<file_name>.so` with `manifest`
  /// beside it, as an operator would (written aside, then renamed into place).
  void installPlugin(const std::string& so, const std::string& file_name, const std::string& manifest) const;

  /// Runs `sql` on the stack's own database and returns the first column of every row.
  std::vector<std::string> query(const std::string& sql) const;

  /// The insurers that answer with offers: id → base rate in kopecks.
  static const std::map<std::string, long long>& offeringInsurers();
  static constexpr int kDeadlineSeconds = 8;

 private:
  /// Lists the stack's services for the test Prometheus (OSAGO_TEST_PROMETHEUS_TARGETS), if one runs.
  void listScrapeTargets();
  std::string scrape_targets_file_;

  pid_t startAggregator(const std::string& name, int port, const std::map<std::string, std::string>& extra_env = {});
  pid_t spawn(const std::string& name, const std::vector<std::string>& argv, const std::map<std::string, std::string>& env);
  void waitReady(const std::string& name, pid_t pid, const std::string& url);
  void stopAll();

  std::string base_dsn_;
  std::string db_dsn_;
  std::string db_name_;
  std::string kafka_brokers_;
  std::string topic_;
  std::string work_dir_;
  std::string plugin_dir_;
  int client_info_port_ = 0;
  int second_core_port_ = 0;
  std::string token_secret_ = "integration-test-secret-" + std::to_string(::getpid()) + "-0123456789abcdef";
  std::string service_secret_ = "integration-service-key-" + std::to_string(::getpid()) + "-0123456789abcdef";
  std::unique_ptr<auth::ServiceTokenIssuer> service_tokens_ =
      std::make_unique<auth::ServiceTokenIssuer>(service_secret_, "integration-tests", "osago-aggregator");
  std::string admin_token_;
  int second_aggregator_port_ = 0;
  std::string log_dir_;
  int core_port_ = 0;
  int aggregator_port_ = 0;
  int simulator_port_ = 0;
  int simulator_tls_port_ = 0;
  std::string tls_dir_;
  std::vector<std::pair<std::string, pid_t>> children_;
};

}  // namespace osago::testing
