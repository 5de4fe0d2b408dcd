#pragma once

#include <osago/common/http_server.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace osago::simulator {

/// One fictional insurance company served by the simulator.
struct InsurerProfile {
  std::string id;                          ///< path prefix: /{id}/osago/applications
  std::string name;
  std::int64_t base_rate_kopecks = 0;      ///< TB, inside the regulator's corridor
  std::chrono::milliseconds pending{2000}; ///< how long the offer stays "pending"
  int decline_under_age = 0;               ///< decline when any driver is younger (0: never)
  std::set<std::string> decline_regions;   ///< decline owners registered in these regions
};

struct SimulatorConfig {
  std::string host = "127.0.0.1";
  int port = 8090;
  std::string log_level = "information";
  std::vector<InsurerProfile> insurers;

  /// Parses the YAML file (unknown keys rejected), then applies OSAGO_SIMULATOR_PORT.
  static SimulatorConfig load(const std::string& file);
};

/// The simulated partners' REST API. Thread-safe. Applications live in
/// memory only; the oldest are dropped beyond `kMaxApplications`.
class InsurerSimulator {
 public:
  static constexpr std::size_t kMaxApplications = 100'000;

  explicit InsurerSimulator(std::vector<InsurerProfile> insurers);

  /// Registers the partner routes on `router`.
  void registerRoutes(http::Router& router);

 private:
  struct Application {
    std::string insurer_id;
    std::chrono::steady_clock::time_point ready_at;
    nlohmann::json outcome;
  };

  const InsurerProfile& insurer(const std::string& id) const;
  nlohmann::json decide(const InsurerProfile& insurer, const nlohmann::json& quote, const std::string& application_id) const;

  std::map<std::string, InsurerProfile> insurers_;
  std::mutex mutex_;
  std::map<std::string, Application> applications_;
  std::vector<std::string> order_;  // insertion order for eviction
  std::size_t evict_from_ = 0;
};

}  // namespace osago::simulator
