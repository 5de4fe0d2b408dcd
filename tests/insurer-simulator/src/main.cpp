// The insurer simulator: fictional insurance companies speaking a partner
// REST API, with premiums from the real OSAGO formula.
#include "simulator.hpp"

#include <osago/common/metrics.hpp>
#include <osago/common/service_app.hpp>

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>

#include <memory>

namespace osago::simulator {
namespace {

/// The partner API over HTTPS, as real insurers serve it: TLS 1.2 or later with `cfg`'s certificate.
std::unique_ptr<http::Server> makeTlsServer(Poco::Net::HTTPRequestHandlerFactory::Ptr router, const SimulatorConfig& cfg) {
  Poco::Net::initializeSSL();
  Poco::Net::Context::Params params;
  params.privateKeyFile = cfg.tls_key_file;
  params.certificateFile = cfg.tls_cert_file;
  params.verificationMode = Poco::Net::Context::VERIFY_NONE;  // clients are not asked for a certificate
  Poco::Net::Context::Ptr context = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, params);
  context->disableProtocols(Poco::Net::Context::PROTO_SSLV2 | Poco::Net::Context::PROTO_SSLV3 |
                            Poco::Net::Context::PROTO_TLSV1 | Poco::Net::Context::PROTO_TLSV1_1);
  context->enableSessionCache(true, "osago-insurer-simulator");
  Poco::Net::SecureServerSocket socket(Poco::Net::SocketAddress(cfg.host, static_cast<Poco::UInt16>(cfg.tls_port)), 256,
                                       context);
  return http::makeServer(router, socket, {.max_threads = 64, .max_queued = 256});
}

}  // namespace

class SimulatorApp : public ServiceApplication {
 protected:
  int main(const std::vector<std::string>&) override {
    SimulatorConfig cfg;
    if (auto exit_code = loadConfig("insurer-simulator", cfg, &SimulatorConfig::load)) return *exit_code;
    auto& log = Poco::Logger::get("simulator");
    InsurerSimulator simulator(cfg.insurers);
    auto* routes = new http::Router;
    simulator.registerRoutes(*routes);
    routes->add("GET", "/health", [](auto&, Poco::Net::HTTPServerResponse& resp, const auto&) {
      http::sendJson(resp, 200, {{"status", "UP"}});
    });
    metrics::addEndpoint(*routes);  // the partner calls it takes, for the stack's Prometheus
    // One router for both servers, owned by the pointer they share.
    Poco::Net::HTTPRequestHandlerFactory::Ptr router(routes);
    auto server = http::makeServer(router, cfg.host, cfg.port, {.max_threads = 64, .max_queued = 256});
    std::unique_ptr<http::Server> tls_server;
    if (cfg.tls_port > 0) {
      try {
        tls_server = makeTlsServer(router, cfg);
      } catch (const Poco::Exception& e) {
        log.fatal("cannot serve HTTPS on " + cfg.host + ":" + std::to_string(cfg.tls_port) + " with " +
                  cfg.tls_cert_file + ": " + e.displayText());
        return EXIT_CONFIG;
      }
    }
    server->start();
    if (tls_server) tls_server->start();
    // The buyer's pages (payment links) on the plain HTTP listener, as the browser reaches it.
    simulator.setPublicUrl("http://" + cfg.host + ":" + std::to_string(server->port()));
    log.information("insurer simulator listening on http://" + cfg.host + ":" + std::to_string(server->port()) +
                    (tls_server ? " and https://" + cfg.host + ":" + std::to_string(tls_server->port()) : std::string()) +
                    " with " + std::to_string(cfg.insurers.size()) + " insurers");
    waitForTerminationRequest();
    if (tls_server) tls_server->stop();
    server->stop();
    return EXIT_OK;
  }
};

}  // namespace osago::simulator

POCO_SERVER_MAIN(osago::simulator::SimulatorApp)
