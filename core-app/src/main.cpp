// core-app: the back end of the web application. Accepts the driver's quote
// request, forwards it to osago-aggregator, and streams the request's events
// from Kafka to the driver's browser.
#include "api/core_api.hpp"
#include "auth/token_service.hpp"
#include "clients/aggregator_client.hpp"
#include "config/core_config.hpp"
#include "streaming/event_hub.hpp"
#include "streaming/quote_event_consumer.hpp"

#include <osago/common/kafka_topics.hpp>
#include <osago/common/logging.hpp>

#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Util/ServerApplication.h>

#include <iostream>
#include <thread>

namespace osago::core {

class CoreApp : public Poco::Util::ServerApplication {
 protected:
  void defineOptions(Poco::Util::OptionSet& options) override {
    ServerApplication::defineOptions(options);
    options.addOption(Poco::Util::Option("config", "c", "YAML configuration file")
                          .required(true)
                          .argument("file")
                          .binding("osago.config"));
  }

  int main(const std::vector<std::string>&) override {
    CoreConfig cfg;
    try {
      cfg = CoreConfig::load(config().getString("osago.config"));
      logging::configure(cfg.log_level);
    } catch (const std::exception& e) {
      std::cerr << "core-app: configuration error: " << e.what() << "\n";
      return EXIT_CONFIG;
    }
    auto& log = Poco::Logger::get("core-app");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (int attempt = 1;; ++attempt) {
      try {
        kafka::ensureTopic(cfg.kafka_brokers, cfg.kafka_topic, 6);
        break;
      } catch (const std::exception& e) {
        if (std::chrono::steady_clock::now() > deadline) {
          log.fatal(std::string("Kafka is not usable after 60 s: ") + e.what());
          return EXIT_UNAVAILABLE;
        }
        if (attempt == 1) log.warning(std::string("Kafka not ready yet: ") + e.what());
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
    }

    TokenService tokens(cfg.token_secret, cfg.token_ttl);
    AggregatorClient aggregator(cfg.aggregator_url, cfg.aggregator_timeout);
    EventHub hub;
    QuoteEventConsumer consumer(cfg.kafka_brokers, cfg.kafka_topic, hub);
    CoreApi api(cfg, tokens, aggregator, hub, [&] { return consumer.ready(); });

    auto* router = new http::Router;
    api.registerRoutes(*router);
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(cfg.max_connections);
    params->setMaxQueued(cfg.max_connections * 2);
    Poco::Net::ServerSocket socket = http::listen(cfg.listen_host, cfg.listen_port);
    Poco::Net::HTTPServer server(router, socket, params);

    consumer.start();
    server.start();
    log.information("core-app listening on http://" + cfg.listen_host + ":" + std::to_string(socket.address().port()) +
                    (cfg.dev_login_enabled ? " (dev login enabled)" : ""));
    waitForTerminationRequest();
    log.information("stopping");
    server.stopAll(true);
    consumer.stop();
    return EXIT_OK;
  }
};

}  // namespace osago::core

POCO_SERVER_MAIN(osago::core::CoreApp)
