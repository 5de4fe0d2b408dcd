// The insurer simulator: fictional insurance companies speaking a partner
// REST API, with premiums from the real OSAGO formula.
#include "simulator.hpp"

#include <osago/common/service_app.hpp>

#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
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
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(64);
    params->setMaxQueued(256);
    Poco::Net::ServerSocket socket = http::listen(cfg.host, cfg.port);
    Poco::Net::HTTPServer server(router, socket, params);
    server.start();
    log.information("insurer simulator listening on http://" + cfg.host + ":" + std::to_string(socket.address().port()) +
                    " with " + std::to_string(cfg.insurers.size()) + " insurers");
    waitForTerminationRequest();
    server.stop();
    return EXIT_OK;
  }
};

}  // namespace osago::simulator

POCO_SERVER_MAIN(osago::simulator::SimulatorApp)
