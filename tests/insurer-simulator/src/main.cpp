// The insurer simulator: fictional insurance companies speaking a partner
// REST API, with premiums from the real OSAGO formula.
#include "simulator.hpp"

#include <osago/common/service_app.hpp>

#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/ServerSocket.h>

namespace osago::simulator {

class SimulatorApp : public ServiceApplication {
 protected:
  int main(const std::vector<std::string>&) override {
    SimulatorConfig cfg;
    if (auto exit_code = loadConfig("insurer-simulator", cfg, &SimulatorConfig::load)) return *exit_code;
    auto& log = Poco::Logger::get("simulator");
    InsurerSimulator simulator(cfg.insurers);
    auto* router = new http::Router;
    simulator.registerRoutes(*router);
    router->add("GET", "/health", [](auto&, Poco::Net::HTTPServerResponse& resp, const auto&) {
      http::sendJson(resp, 200, {{"status", "UP"}});
    });
    auto server = http::makeServer(router, cfg.host, cfg.port, {.max_threads = 64, .max_queued = 256});
    server->start();
    log.information("insurer simulator listening on http://" + cfg.host + ":" + std::to_string(server->port()) +
                    " with " + std::to_string(cfg.insurers.size()) + " insurers");
    waitForTerminationRequest();
    server->stop();
    return EXIT_OK;
  }
};

}  // namespace osago::simulator

POCO_SERVER_MAIN(osago::simulator::SimulatorApp)
