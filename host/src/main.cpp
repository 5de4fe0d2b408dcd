// osago-aggregator: fans each quote request out to every insurer plugin and
// keeps the whole process in PostgreSQL, publishing every change to Kafka.
#include "api/quote_api.hpp"
#include "config/aggregator_config.hpp"
#include "events/outbox_relay.hpp"
#include "plugins/plugin_registry.hpp"
#include "scheduling/quote_scheduler.hpp"
#include "store/migrations.hpp"
#include "store/quote_store.hpp"

#include <osago/common/kafka_topics.hpp>
#include <osago/common/logging.hpp>

#include <Poco/Environment.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Process.h>
#include <Poco/UUIDGenerator.h>
#include <Poco/Util/ServerApplication.h>

#include <iostream>
#include <thread>

namespace osago::host {

class AggregatorApp : public Poco::Util::ServerApplication {
 protected:
  void defineOptions(Poco::Util::OptionSet& options) override {
    ServerApplication::defineOptions(options);
    options.addOption(Poco::Util::Option("config", "c", "YAML configuration file")
                          .required(true)
                          .argument("file")
                          .binding("osago.config"));
  }

  int main(const std::vector<std::string>&) override {
    AggregatorConfig cfg;
    try {
      cfg = AggregatorConfig::load(config().getString("osago.config"));
      logging::configure(cfg.log_level);
    } catch (const std::exception& e) {
      std::cerr << "osago-aggregator: configuration error: " << e.what() << "\n";
      return EXIT_CONFIG;
    }
    auto& log = Poco::Logger::get("aggregator");
    std::string instance_id = Poco::Environment::nodeName() + "-" + std::to_string(Poco::Process::id()) + "-" +
                              Poco::UUIDGenerator::defaultGenerator().createRandom().toString().substr(0, 8);
    try {
      waitFor("PostgreSQL", [&] { applyMigrations(cfg.postgres_dsn); });
      waitFor("Kafka", [&] { kafka::ensureTopic(cfg.kafka_brokers, cfg.kafka_topic, 6); });
    } catch (const std::exception& e) {
      log.fatal(e.what());
      return EXIT_UNAVAILABLE;
    }

    QuoteStore store(cfg.postgres_dsn, cfg.postgres_pool_size);
    PluginRegistry plugins(cfg.plugin_directory, cfg.companies);
    KafkaEventPublisher publisher(cfg.kafka_brokers, cfg.kafka_topic);
    OutboxRelay relay(store, publisher);
    QuoteScheduler scheduler(store, plugins, cfg.quotes, instance_id, [&] { relay.wake(); });
    QuoteApi api(store, plugins, cfg.quotes.deadline, [] { return CivilDate::todayUtc(); }, [&] {
      relay.wake();
      scheduler.wake();
    });

    auto* router = new http::Router;
    api.registerRoutes(*router);
    router->add("GET", "/health/live", [](auto&, auto& resp, const auto&) { http::sendJson(resp, 200, {{"status", "UP"}}); });
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(64);
    params->setMaxQueued(512);
    Poco::Net::ServerSocket socket = http::listen(cfg.listen_host, cfg.listen_port);
    Poco::Net::HTTPServer server(router, socket, params);

    relay.start();
    scheduler.start();
    server.start();
    log.information("osago-aggregator " + instance_id + " listening on http://" + cfg.listen_host + ":" +
                    std::to_string(socket.address().port()) + " with " + std::to_string(plugins.enabledCompanies().size()) +
                    " enabled companies, " + std::to_string(plugins.libraries().size()) + " plugins loaded");
    waitForTerminationRequest();
    log.information("stopping: no new requests; finishing calls in flight");
    server.stop();
    scheduler.stop();
    relay.stop();
    log.information("stopped");
    return EXIT_OK;
  }

 private:
  /// Retries `fn` for up to a minute while its dependency is starting.
  template <typename Fn>
  static void waitFor(const std::string& what, Fn&& fn) {
    auto& log = Poco::Logger::get("aggregator");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (int attempt = 1;; ++attempt) {
      try {
        fn();
        return;
      } catch (const std::exception& e) {
        if (std::chrono::steady_clock::now() > deadline)
          throw Error(what + " is not usable after 60 s: " + e.what());
        if (attempt == 1 || attempt % 10 == 0) log.warning(what + " not ready yet: " + e.what());
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
    }
  }
};

}  // namespace osago::host

POCO_SERVER_MAIN(osago::host::AggregatorApp)
