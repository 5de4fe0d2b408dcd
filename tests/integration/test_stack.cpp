#include "test_stack.hpp"

#include "auth/token_service.hpp"

#include <osago/common/http_client.hpp>
#include <osago/common/ids.hpp>

#include <nlohmann/json.hpp>

#include <Poco/Net/ServerSocket.h>

#include <libpq-fe.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace osago::testing {
namespace {

std::string requireEnv(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v)
    throw std::runtime_error(std::string(name) + " is not set: run the integration tests through ./osago test, "
                             "which starts PostgreSQL and Kafka for them");
  return v;
}

// A port for a service this test starts. Not an ephemeral one: a port the
// kernel hands out for outgoing connections can be taken by another process's
// client socket between this check and the service's bind (ctest -j runs
// several stacks at once). Each test process walks its own block below the
// ephemeral range (20000-31999), so two stacks do not pick the same port; it
// goes round its block (a stopped stack's ports are free again) and skips a
// port something is listening on.
int freePort() {
  constexpr int kFirst = 20000, kBlock = 40, kBlocks = 300;
  static const int block_start = kFirst + static_cast<int>(::getpid() % kBlocks) * kBlock;
  static int next = 0;
  for (int tries = 0; tries < kBlock; ++tries) {
    int port = block_start + next;
    next = (next + 1) % kBlock;
    try {
      Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)));
      return port;
    } catch (const Poco::Exception&) {
      // in use: the next one
    }
  }
  throw std::runtime_error("all " + std::to_string(kBlock) + " ports of this test process's block are in use");
}

void exec(const std::string& dsn, const std::string& sql) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(dsn.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) throw std::runtime_error(std::string("PostgreSQL: ") + PQerrorMessage(conn.get()));
  std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(conn.get(), sql.c_str()), &PQclear);
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
    throw std::runtime_error(sql + ": " + PQresultErrorMessage(r.get()));
}

std::string tail(const std::string& file) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::string out;
  for (std::size_t i = lines.size() > 15 ? lines.size() - 15 : 0; i < lines.size(); ++i) out += lines[i] + "\n";
  return out;
}

}  // namespace

const std::map<std::string, long long>& TestStack::offeringInsurers() {
  static const std::map<std::string, long long> kInsurers = {
      {"severny-shchit", 650000}, {"ural-polis", 590000},   {"volga-garant", 720000},
      {"baltiyskaya", 810000},    {"sibir-rezerv", 690000}, {"yuzhny-bereg", 760000}};
  return kInsurers;
}

TestStack::TestStack() {
  base_dsn_ = requireEnv("OSAGO_TEST_PG_DSN");
  kafka_brokers_ = requireEnv("OSAGO_TEST_KAFKA_BROKERS");
  std::string suffix = newUuid().substr(0, 8);
  db_name_ = "it_" + suffix;
  topic_ = "it-" + suffix + ".quote-events";
  work_dir_ = std::string(OSAGO_TEST_WORK_DIR) + "/" + suffix;
  log_dir_ = work_dir_ + "/logs";
  plugin_dir_ = work_dir_ + "/plugins";
  admin_token_ = "admin-" + newUuid();
  std::filesystem::create_directories(log_dir_);
  std::filesystem::create_directories(plugin_dir_);
  exec(base_dsn_, "CREATE DATABASE " + db_name_);
  db_dsn_ = base_dsn_ + " dbname=" + db_name_;  // a later dbname wins in a libpq conninfo

  simulator_port_ = freePort();
  simulator_tls_port_ = freePort();
  aggregator_port_ = freePort();
  core_port_ = freePort();
  client_info_port_ = freePort();
  std::ofstream(work_dir_ + "/client-info.yaml")
      << "listen: {host: 127.0.0.1, port: " << client_info_port_ << "}\nprofiles_file: "
      << OSAGO_TEST_SOURCE_DIR << "/config/client-info-profiles.json\n";

  // The dev CA, the simulator's certificate signed by it and a rogue one (packaging/dev/dev-tls.sh).
  tls_dir_ = work_dir_ + "/tls";
  if (std::system(("'" OSAGO_TEST_SOURCE_DIR "/packaging/dev/dev-tls.sh' '" + tls_dir_ + "'").c_str()) != 0)
    throw std::runtime_error("packaging/dev/dev-tls.sh could not make the test TLS material in " + tls_dir_);
  std::ofstream(work_dir_ + "/insurer-simulator.yaml")
      << "listen: {host: 127.0.0.1, port: " << simulator_port_ << "}\n"
      << "tls: {port: " << simulator_tls_port_ << ", cert_file: " << tls_dir_ << "/partner.pem, key_file: " << tls_dir_
      << "/partner-key.pem}\n"
      << R"(log_level: information
insurers:
  - {id: severny-shchit, name: "Северный щит", dialect: polisnet, api_key: k-severny, base_rate_rub: 6500, pending_ms: 300}
  - {id: ural-polis, name: "Уральский полис", dialect: polisnet, api_key: k-ural, base_rate_rub: 5900, pending_ms: 800, decline_under_age: 23}
  - {id: slow, name: "Медленная", dialect: polisnet, api_key: k-slow, base_rate_rub: 7000, pending_ms: 600000}
  - {id: volga-garant, name: "Волга-Гарант", dialect: garant, client_id: agg, client_secret: s-volga, base_rate_rub: 7200, pending_ms: 1200}
  - {id: baltiyskaya, name: "Балтийская страховая", dialect: garant, client_id: agg, client_secret: s-baltic, token_ttl_seconds: 2, base_rate_rub: 8100, pending_ms: 2000}
  - {id: sibir-rezerv, name: "Сибирь-Резерв", dialect: volna, api_key: k-sibir, base_rate_rub: 6900, pending_ms: 500}
  - {id: yuzhny-bereg, name: "Южный берег", dialect: volna, api_key: k-yuzhny, base_rate_rub: 7600, pending_ms: 1500}
  - {id: dobry-put, name: "Добрый путь", dialect: polisnet, api_key: dev-dobry-put-key, base_rate_rub: 6100, pending_ms: 500}
  - {id: kamskaya, name: "Камская страховая", dialect: potok, api_key: k-kama, base_rate_rub: 6700, pending_ms: 4500}
)";
  // The bundled plugins, each with a manifest of this stack's own; partners over HTTPS.
  std::string sim = simulatorTlsUrl();
  auto install = [&](const char* so, const std::string& name, const std::string& companies) {
    std::filesystem::copy_file(so, plugin_dir_ + "/" + name + ".so");
    std::ofstream(plugin_dir_ + "/" + name + ".yaml") << "companies:\n" << companies;
  };
  install(OSAGO_TEST_POLISNET_SO, "osago_plugin_polisnet",
          "  - {id: severny-shchit, name: severny-shchit, settings: {baseUrl: \"" + sim + "/severny-shchit\"}, secrets: {apiKey: k-severny}}\n"
          "  - {id: ural-polis, name: ural-polis, settings: {baseUrl: \"" + sim + "/ural-polis\"}, secrets: {apiKey: k-ural}}\n"
          "  - {id: slow, name: slow, settings: {baseUrl: \"" + sim + "/slow\"}, secrets: {apiKey: k-slow}}\n"
          "  - {id: ghost, name: ghost, settings: {baseUrl: \"" + sim + "/ghost\"}}\n");
  install(OSAGO_TEST_GARANT_SO, "osago_plugin_garant",
          "  - {id: volga-garant, name: volga-garant, settings: {baseUrl: \"" + sim + "/volga-garant\", clientId: agg}, secrets: {clientSecret: s-volga}}\n"
          "  - {id: baltiyskaya, name: baltiyskaya, settings: {baseUrl: \"" + sim + "/baltiyskaya\", clientId: agg}, secrets: {clientSecret: s-baltic}}\n");
  install(OSAGO_TEST_VOLNA_SO, "osago_plugin_volna",
          "  - {id: sibir-rezerv, name: sibir-rezerv, settings: {baseUrl: \"" + sim + "/sibir-rezerv\"}, secrets: {apiKey: k-sibir}}\n"
          "  - {id: yuzhny-bereg, name: yuzhny-bereg, settings: {baseUrl: \"" + sim + "/yuzhny-bereg\"}, secrets: {apiKey: k-yuzhny}}\n");

  std::ofstream agg(work_dir_ + "/osago-aggregator.yaml");
  agg << "log_level: debug\n"
      << "postgres: {dsn: \"" << db_dsn_ << "\", pool_size: 40}\n"
      << "kafka: {brokers: \"" << kafka_brokers_ << "\", topic: \"" << topic_ << "\", create_topic: true}\n"
      << "plugins: {directory: \"" << plugin_dir_ << "\", cache_directory: \"" << work_dir_
      << "/plugin-cache\", rescan_seconds: 1, enable_new: false,\n"
      << "          partner_http: {ca_file: \"" << tls_dir_ << "/ca.pem\"},\n"
      << "          worker: {memory_mb: 256, load_timeout_ms: 3000, restart_initial_ms: 100, restart_max_ms: 2000}}\n"
      << "quotes: {deadline_seconds: " << kDeadlineSeconds << ", workers: 32, poll_initial_ms: 200, poll_max_ms: 1000, lease_seconds: 2}\n"
      << "purchases: {poll_initial_ms: 200, poll_max_ms: 1000, payment_poll_ms: 300}\n"
      << "retention: {sweep_seconds: 1}\n";
  agg.close();
  std::ofstream(work_dir_ + "/core-app.yaml")
      << "listen: {host: 127.0.0.1, port: " << core_port_ << ", max_connections: 64}\n"
      << "aggregator: {url: \"http://127.0.0.1:" << aggregator_port_ << "\", timeout_ms: 2000}\n"
      << "kafka: {brokers: \"" << kafka_brokers_ << "\", topic: \"" << topic_ << "\"}\n"
      << "auth: {dev_login_enabled: true, token_ttl_seconds: 600}\n"
      << "web: {root: \"" << OSAGO_TEST_WEB_ROOT << "\"}\n"
      << "streams: {heartbeat_seconds: 3}\n"
      << "client_info: {url: \"http://127.0.0.1:" << client_info_port_ << "\", timeout_ms: 200,\n"
      << "              breaker: {minimum_calls: 3, failure_rate: 0.5, open_ms: 1000, half_open_calls: 1}}\n"
      << "limits: {user_requests_per_second: 20, user_burst: 40, requests_per_second: 2000, burst: 4000}\n";

  try {
    pid_t pid = spawn("insurer-simulator", {OSAGO_TEST_SIMULATOR_BIN, "--config=" + work_dir_ + "/insurer-simulator.yaml"}, {});
    waitReady("insurer-simulator", pid, simulatorUrl() + "/control/insurers");
    pid = spawn("client-info", {OSAGO_TEST_CLIENT_INFO_BIN, "--config=" + work_dir_ + "/client-info.yaml"}, {});
    waitReady("client-info", pid, clientInfoUrl() + "/health");
    pid = startAggregator("osago-aggregator", aggregator_port_);
    waitReady("osago-aggregator", pid, aggregatorUrl() + "/health/live");
    // New plugins start switched off here, as in production: switch the bundled ones on.
    for (const char* plugin : {"polisnet", "garant", "volna"}) {
      http::ClientRequest req;
      req.method = "POST";
      req.url = aggregatorUrl() + "/admin/plugins/" + plugin + "/enable";
      req.headers = {{"Authorization", "Bearer " + admin_token_}};
      req.timeout = std::chrono::seconds(5);
      if (http::call(req).status != 200) throw std::runtime_error(std::string("cannot enable plugin ") + plugin);
    }
    pid = spawn("core-app", {OSAGO_TEST_CORE_BIN, "--config=" + work_dir_ + "/core-app.yaml"},
                {{"OSAGO_TOKEN_SECRET", token_secret_}, {"OSAGO_SERVICE_TOKEN_SECRET", service_secret_}});
    waitReady("core-app", pid, coreUrl() + "/health/ready");
    listScrapeTargets();
  } catch (...) {
    stopAll();
    throw;
  }
}

void TestStack::listScrapeTargets() {
  const char* dir = std::getenv("OSAGO_TEST_PROMETHEUS_TARGETS");
  if (!dir || !*dir) return;  // no Prometheus in this run
  scrape_targets_file_ = std::string(dir) + "/stack-" + std::to_string(::getpid()) + ".json";
  nlohmann::json targets = nlohmann::json::array();
  auto add = [&](const std::string& job, int port) {
    targets.push_back({{"targets", {"127.0.0.1:" + std::to_string(port)}}, {"labels", {{"job", job}}}});
  };
  add("osago-core-app", core_port_);
  add("osago-aggregator", aggregator_port_);
  // The second instances too while they run: a quote's series may be made on either.
  if (second_core_port_ != 0) add("osago-core-app", second_core_port_);
  if (second_aggregator_port_ != 0) add("osago-aggregator", second_aggregator_port_);
  add("insurer-simulator", simulator_port_);
  add("client-info", client_info_port_);
  std::string tmp = scrape_targets_file_ + ".tmp";
  std::ofstream(tmp) << targets.dump();
  std::rename(tmp.c_str(), scrape_targets_file_.c_str());
}

pid_t TestStack::startAggregator(const std::string& name, int port, const std::map<std::string, std::string>& extra_env) {
  std::map<std::string, std::string> env = {{"OSAGO_AGGREGATOR_PORT", std::to_string(port)},
                                            {"OSAGO_ADMIN_TOKEN", admin_token_},
                                            {"OSAGO_SERVICE_TOKEN_SECRET", service_secret_},
                                            // The example plugin's manifest (the plugin guide's) reads it.
                                            {"OSAGO_SECRET_DOBRY_PUT_BASE_URL", simulatorTlsUrl() + "/dobry-put"}};
  for (const auto& [k, v] : extra_env) env[k] = v;
  return spawn(name, {OSAGO_TEST_AGGREGATOR_BIN, "--config=" + work_dir_ + "/osago-aggregator.yaml"}, env);
}

std::string TestStack::startExtraAggregator(const std::string& name, const std::map<std::string, std::string>& env) {
  int port = freePort();
  pid_t pid = startAggregator(name, port, env);
  std::string url = "http://127.0.0.1:" + std::to_string(port);
  waitReady(name, pid, url + "/health/live");
  return url;
}

int TestStack::waitForExit(const std::string& name, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto it = children_.begin(); it != children_.end(); ++it) {
    if (it->first != name) continue;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(it->second, &status, WNOHANG) == it->second) {
        children_.erase(it);
        return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return -1;
  }
  return -1;
}

void TestStack::stop(const std::string& name, int signal) {
  for (auto it = children_.begin(); it != children_.end(); ++it) {
    if (it->first != name) continue;
    ::kill(it->second, signal);
    int status = 0;
    ::waitpid(it->second, &status, 0);
    children_.erase(it);
    if (name == "osago-aggregator-2") second_aggregator_port_ = 0;
    return;
  }
}

void TestStack::stopSecondAggregator() {
  for (auto it = children_.begin(); it != children_.end(); ++it) {
    if (it->first != "osago-aggregator-2") continue;
    ::kill(it->second, SIGTERM);
    int status = 0;
    ::waitpid(it->second, &status, 0);
    children_.erase(it);
    second_aggregator_port_ = 0;
    listScrapeTargets();
    return;
  }
}

void TestStack::stopFirstAggregator(int signal) {
  for (auto it = children_.begin(); it != children_.end(); ++it) {
    if (it->first != "osago-aggregator") continue;
    ::kill(it->second, signal);
    int status = 0;
    ::waitpid(it->second, &status, 0);
    children_.erase(it);
    return;
  }
  throw std::runtime_error("the first aggregator is not running");
}

void TestStack::restartFirstAggregator() {
  pid_t pid = startAggregator("osago-aggregator", aggregator_port_);
  waitReady("osago-aggregator", pid, aggregatorUrl() + "/health/live");
}

std::string TestStack::serviceAuthorization() const {
  return service_tokens_->authorization();
}

std::string TestStack::issueToken(const std::string& user, std::chrono::seconds ttl) const {
  return osago::core::TokenService(token_secret_, ttl).issue(user);
}

std::map<std::string, std::string> TestStack::kafkaTlsEnv(const std::string& user) {
  const std::string dir = requireEnv("OSAGO_TEST_KAFKA_TLS_DIR");
  const std::string cert = dir + "/kafka-" + (user == "rogue" ? std::string("rogue") : user);
  return {{"OSAGO_KAFKA_BROKERS", requireEnv("OSAGO_TEST_KAFKA_TLS_BROKERS")},
          {"OSAGO_KAFKA_SECURITY_PROTOCOL", "ssl"},
          {"OSAGO_KAFKA_CA_FILE", dir + "/ca.pem"},
          {"OSAGO_KAFKA_CLIENT_CERT", cert + ".pem"},
          {"OSAGO_KAFKA_CLIENT_KEY", cert + "-key.pem"}};
}

std::string TestStack::startExtraCore(const std::string& name, const std::string& aggregator_url,
                                      const std::map<std::string, std::string>& extra_env) {
  std::string url = spawnExtraCore(name, aggregator_url, extra_env);
  waitReady(name, pidOf(name), url + "/health/ready");
  return url;
}

std::string TestStack::spawnExtraCore(const std::string& name, const std::string& aggregator_url,
                                      const std::map<std::string, std::string>& extra_env) {
  int port = freePort();
  std::map<std::string, std::string> env = {{"OSAGO_TOKEN_SECRET", token_secret_},
                                            {"OSAGO_SERVICE_TOKEN_SECRET", service_secret_},
                                            {"OSAGO_CORE_PORT", std::to_string(port)},
                                            {"OSAGO_AGGREGATOR_URL", aggregator_url}};
  for (const auto& [k, v] : extra_env) env[k] = v;
  spawn(name, {OSAGO_TEST_CORE_BIN, "--config=" + work_dir_ + "/core-app.yaml"}, env);
  return "http://127.0.0.1:" + std::to_string(port);
}

std::string TestStack::startExtraSimulator(const std::string& name, const std::string& cert, const std::string& key) {
  int port = freePort(), tls_port = freePort();
  pid_t pid = spawn(name, {OSAGO_TEST_SIMULATOR_BIN, "--config=" + work_dir_ + "/insurer-simulator.yaml"},
                    {{"OSAGO_SIMULATOR_PORT", std::to_string(port)},
                     {"OSAGO_SIMULATOR_TLS_PORT", std::to_string(tls_port)},
                     {"OSAGO_SIMULATOR_TLS_CERT", cert},
                     {"OSAGO_SIMULATOR_TLS_KEY", key}});
  waitReady(name, pid, "http://127.0.0.1:" + std::to_string(port) + "/health");
  return "https://127.0.0.1:" + std::to_string(tls_port);
}

std::string TestStack::secondCoreUrl() {
  if (second_core_port_ == 0) {
    std::string url = startExtraCore("core-app-2", secondAggregatorUrl());
    second_core_port_ = std::stoi(url.substr(url.rfind(':') + 1));
    listScrapeTargets();
  }
  return "http://127.0.0.1:" + std::to_string(second_core_port_);
}

std::string TestStack::secondAggregatorUrl() {
  if (second_aggregator_port_ == 0) {
    int port = freePort();
    pid_t pid = startAggregator("osago-aggregator-2", port);
    waitReady("osago-aggregator-2", pid, "http://127.0.0.1:" + std::to_string(port) + "/health/live");
    second_aggregator_port_ = port;
    listScrapeTargets();
  }
  return "http://127.0.0.1:" + std::to_string(second_aggregator_port_);
}

TestStack::~TestStack() {
  if (!scrape_targets_file_.empty()) std::remove(scrape_targets_file_.c_str());
  stopAll();
  try {
    exec(base_dsn_, "DROP DATABASE IF EXISTS " + db_name_ + " WITH (FORCE)");
  } catch (const std::exception&) {
    // Leaving a scratch database behind is harmless; the PostgreSQL of the test stack is private.
  }
}

pid_t TestStack::spawn(const std::string& name, const std::vector<std::string>& argv,
                       const std::map<std::string, std::string>& env) {
  std::string log = log_dir_ + "/" + name + ".log";
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  children_.emplace_back(name, pid);
  return pid;
}

void TestStack::waitReady(const std::string& name, pid_t pid, const std::string& url) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid)
      throw std::runtime_error(name + " exited during start-up; its log " + log_dir_ + "/" + name + ".log ends:\n" +
                               tail(log_dir_ + "/" + name + ".log"));
    try {
      http::ClientRequest req;
      req.url = url;
      req.timeout = std::chrono::milliseconds(500);
      if (http::call(req).status == 200) return;
    } catch (const http::ClientError&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  throw std::runtime_error(name + " not ready after 60 s; log:\n" + tail(log_dir_ + "/" + name + ".log"));
}

void TestStack::stopAll() {
  // In reverse start order, each after the one before has gone: core-app, aggregator, simulator.
  for (auto it = children_.rbegin(); it != children_.rend(); ++it) {
    ::kill(it->second, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int status = 0;
    while (::waitpid(it->second, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(it->second, SIGKILL);
        ::waitpid(it->second, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  children_.clear();
}

pid_t TestStack::pidOf(const std::string& name) const {
  for (const auto& [n, pid] : children_)
    if (n == name) return pid;
  return 0;
}

void TestStack::installPlugin(const std::string& so, const std::string& file_name, const std::string& manifest) const {
  std::string base = plugin_dir_ + "/" + file_name;
  std::ofstream(base + ".yaml.tmp") << manifest;
  std::filesystem::rename(base + ".yaml.tmp", base + ".yaml");
  std::filesystem::copy_file(so, base + ".so.tmp", std::filesystem::copy_options::overwrite_existing);
  std::filesystem::permissions(base + ".so.tmp", std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                                                     std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                                                     std::filesystem::perms::others_exec);
  std::filesystem::rename(base + ".so.tmp", base + ".so");
}

std::vector<std::string> TestStack::query(const std::string& sql) const {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(db_dsn_.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) throw std::runtime_error(std::string("PostgreSQL: ") + PQerrorMessage(conn.get()));
  std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(conn.get(), sql.c_str()), &PQclear);
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) throw std::runtime_error(sql + ": " + PQresultErrorMessage(r.get()));
  std::vector<std::string> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) out.emplace_back(PQgetvalue(r.get(), i, 0));
  return out;
}

}  // namespace osago::testing
