// A stand-in for client-info: serves users' saved profiles (name, birth date,
// registration region, vehicles, drivers) from a JSON file, and can be told
// to hang or fail so that core-app's protection against it can be tested.
#include <osago/common/errors.hpp>
#include <osago/common/http_server.hpp>
#include <osago/common/metrics.hpp>
#include <osago/common/service_app.hpp>
#include <osago/common/yaml_config.hpp>

#include <Poco/Logger.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/ServerSocket.h>

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>

namespace osago::clientinfo {

struct StandinConfig {
  std::string host = "127.0.0.1";
  int port = 8095;
  std::string log_level = "information";
  std::string profiles_file;

  static StandinConfig load(const std::string& file) {
    auto root = config::Section::loadFile(file, {"", {{"listen.port", "OSAGO_CLIENT_INFO_PORT"}}});
    StandinConfig cfg;
    auto listen = config::readListen(root, cfg.port);
    cfg.host = listen.host;
    cfg.port = listen.port;
    cfg.log_level = root.get<std::string>("log_level", cfg.log_level);
    std::filesystem::path profiles = root.require<std::string>("profiles_file");
    if (profiles.is_relative()) profiles = std::filesystem::path(file).parent_path() / profiles;
    cfg.profiles_file = profiles.string();
    root.finish();
    return cfg;
  }
};

/// The profiles and the behaviour tests ask for. Thread-safe.
class Standin {
 public:
  explicit Standin(nlohmann::json profiles) : profiles_(std::move(profiles)) {}

  void registerRoutes(http::Router& router) {
    router.add("GET", "/users/{user}/profile", [this](auto&, auto& resp, const http::PathParams& p) {
      behave();
      for (const auto& profile : profiles_)
        if (profile.value("userId", "") == p.at("user")) return http::sendJson(resp, 200, profile);
      throw http::HttpError(404, "NOT_FOUND", "no profile for user " + p.at("user"));
    });
    // Test control: {"mode": "normal" | "hang" | "error"}. A hang lasts until the mode changes (at most 60 s).
    router.add("PUT", "/control/mode", [this](auto& req, auto& resp, const auto&) {
      auto body = http::readJsonBody(req, 1024);
      std::string mode = body.is_object() ? body.value("mode", "") : "";
      if (mode != "normal" && mode != "hang" && mode != "error")
        throw http::HttpError(400, "VALIDATION_FAILED", "mode must be normal, hang or error");
      {
        std::lock_guard lock(mutex_);
        mode_ = mode;
      }
      changed_.notify_all();
      Poco::Logger::get("client-info").information("mode: " + mode);
      http::sendJson(resp, 200, {{"mode", mode}});
    });
    router.add("GET", "/health", [](auto&, auto& resp, const auto&) { http::sendJson(resp, 200, {{"status", "UP"}}); });
  }

  /// Ends every hang (at shutdown).
  void release() {
    {
      std::lock_guard lock(mutex_);
      mode_ = "normal";
    }
    changed_.notify_all();
  }

 private:
  void behave() {
    std::unique_lock lock(mutex_);
    if (mode_ == "error") throw http::HttpError(503, "UNAVAILABLE", "client-info is failing (test mode)");
    if (mode_ == "hang") changed_.wait_for(lock, std::chrono::seconds(60), [this] { return mode_ != "hang"; });
  }

  nlohmann::json profiles_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string mode_ = "normal";
};

class StandinApp : public ServiceApplication {
 protected:
  int main(const std::vector<std::string>&) override {
    StandinConfig cfg;
    if (auto exit_code = loadConfig("client-info-standin", cfg, &StandinConfig::load)) return *exit_code;
    auto& log = Poco::Logger::get("client-info");
    std::ifstream in(cfg.profiles_file);
    auto profiles = nlohmann::json::parse(in, nullptr, false);
    if (!profiles.is_array()) {
      log.fatal(cfg.profiles_file + ": expected a JSON array of profiles");
      return EXIT_CONFIG;
    }
    Standin standin(std::move(profiles));
    auto* router = new http::Router;
    standin.registerRoutes(*router);
    metrics::addEndpoint(*router);
    auto server = http::makeServer(router, cfg.host, cfg.port, {.max_threads = 64, .max_queued = 64});
    server->start();
    log.information("client-info stand-in listening on http://" + cfg.host + ":" + std::to_string(server->port()));
    waitForTerminationRequest();
    standin.release();  // hanging handlers return before the server waits for them
    server->stopAll(true);
    return EXIT_OK;
  }
};

}  // namespace osago::clientinfo

POCO_SERVER_MAIN(osago::clientinfo::StandinApp)
