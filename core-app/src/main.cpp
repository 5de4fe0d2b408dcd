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
#include <osago/common/service_app.hpp>

#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>

namespace osago::core {

class CoreApp : public ServiceApplication {
 protected:
  int main(const std::vector<std::string>&) override {
    CoreConfig cfg;
    if (!loadConfig("core-app", cfg, &CoreConfig::load)) return EXIT_CONFIG;
    auto& log = Poco::Logger::get("core-app");
    try {
      retryWhileStarting("Kafka", [&] { kafka::ensureTopic(cfg.kafka_brokers, cfg.kafka_topic, 6); });
    } catch (const std::exception& e) {
      log.fatal(e.what());
      return EXIT_UNAVAILABLE;
    }

    TokenService tokens(cfg.token_secret, cfg.token_ttl);
    AggregatorClient aggregator(cfg.aggregator_url, cfg.aggregator_timeout, cfg.aggregator_breaker);
    ClientInfoClient client_info(cfg.client_info_url, cfg.client_info_timeout, cfg.client_info_breaker);
    RateLimiter limiter(cfg.limits);
    EventHub hub;
    QuoteEventConsumer consumer(cfg.kafka_brokers, cfg.kafka_topic, hub);
    CoreApi api(cfg, tokens, aggregator, client_info, limiter, hub, [&] { return consumer.ready(); });

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
