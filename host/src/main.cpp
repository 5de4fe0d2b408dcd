// osago-aggregator: fans each quote request out to every insurer plugin and
// keeps the whole process in PostgreSQL, publishing every change to Kafka.
#include "api/admin_api.hpp"
#include "api/quote_api.hpp"
#include "config/aggregator_config.hpp"
#include "events/outbox_relay.hpp"
#include "plugins/fleet_health.hpp"
#include "plugins/plugin_registry.hpp"
#include "scheduling/quote_scheduler.hpp"
#include "scheduling/retention_sweeper.hpp"
#include "store/migrations.hpp"
#include "store/plugin_switch_store.hpp"
#include "store/quote_store.hpp"
#include "store/work_notifier.hpp"

#include <osago/common/kafka_topics.hpp>
#include <osago/common/metrics.hpp>
#include <osago/common/service_app.hpp>

#include <Poco/Environment.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Process.h>
#include <Poco/UUIDGenerator.h>

namespace osago::host {

namespace {

/// Gauges read when Prometheus asks: each company's breaker and bulkhead, each
/// plugin's switch (from this instance's registry), and the outbox backlog (from PostgreSQL).
void exportScrapedGauges(const PluginRegistry& plugins, QuoteStore& api_store) {
  metrics::onScrape([&plugins, &api_store] {
    static metrics::ScrapedGauges breaker(metrics::gauge(
        "osago_partner_breaker_state", "Circuit breaker per company on this instance: 0 closed, 1 half-open, 2 open"));
    static metrics::ScrapedGauges in_use(metrics::gauge("osago_partner_bulkhead_in_use", "Partner calls running per company"));
    static metrics::ScrapedGauges queued(
        metrics::gauge("osago_partner_bulkhead_queued", "Partner calls waiting for a slot per company"));
    static metrics::ScrapedGauges enabled(metrics::gauge("osago_plugin_enabled", "Whether a plugin is switched on (1) or off (0)"));
    static metrics::ScrapedGauges worker_up(metrics::gauge(
        "osago_plugin_worker_up", "Whether the company's plugin worker runs and serves calls (1) or is down or restarting (0)"));
    static auto& backlog = metrics::gauge("osago_outbox_backlog", "Events committed but not yet acknowledged by Kafka");
    static auto& oldest = metrics::gauge("osago_outbox_oldest_unpublished_age_seconds",
                                         "How long the oldest event not yet acknowledged by Kafka has waited (0: none waits)");
    auto view = plugins.healthView();
    for (const auto& p : view.plugins) enabled.set({{"plugin", p.id}}, p.enabled ? 1 : 0);
    for (const auto& c : view.companies) {
      breaker.set({{"company", c.id}}, metrics::breakerLevel(c.breaker));
      in_use.set({{"company", c.id}}, c.calls_running);
      queued.set({{"company", c.id}}, c.calls_queued);
      if (c.worker_up) worker_up.set({{"company", c.id}}, *c.worker_up ? 1 : 0);
    }
    // A removed plugin's companies leave the gauges (its switch stays listed while stored).
    for (auto* g : {&breaker, &in_use, &queued, &enabled, &worker_up}) g->sweep();
    try {
      auto waiting = api_store.outboxBacklog();
      backlog.Add({}).Set(static_cast<double>(waiting.events));
      oldest.Add({}).Set(waiting.oldest_age_seconds);
    } catch (const std::exception& e) {
      Poco::Logger::get("aggregator").warning(std::string("metrics: cannot count the outbox backlog: ") + e.what());
    }
  });
}

/// /health/live (the process answers) and /health/ready (it can take quote requests).
void addHealthRoutes(http::Router& router, QuoteStore& api_store, KafkaEventPublisher& publisher, const PluginRegistry& plugins) {
  router.add("GET", "/health/live", [](auto&, auto& resp, const auto&) { http::sendJson(resp, 200, {{"status", "UP"}}); });
  // Ready to take quote requests: PostgreSQL answers, a Kafka broker answers,
  // and at least one company of a switched-on plugin can be asked.
  router.add("GET", "/health/ready", [&](auto&, auto& resp, const auto&) {
    nlohmann::json checks;
    bool ok = true;
    try {
      api_store.ping(std::chrono::milliseconds(2000));
      checks["postgres"] = "UP";
    } catch (const std::exception& e) {
      ok = false;
      checks["postgres"] = std::string("DOWN: ") + e.what();
    }
    bool kafka = publisher.brokerReachable(std::chrono::milliseconds(1000));
    checks["kafka"] = kafka ? "UP" : "DOWN: no broker answered within 1 s";
    int usable = 0;
    for (const auto& route : plugins.companies()) usable += route.enabled && route.adapter != nullptr;
    checks["usableCompanies"] = usable;
    ok = ok && kafka && usable > 0;
    checks["status"] = ok ? "UP" : "DOWN";
    http::sendJson(resp, ok ? 200 : 503, checks);
  });
}

}  // namespace

class AggregatorApp : public ServiceApplication {
 protected:
  int main(const std::vector<std::string>&) override {
    AggregatorConfig cfg;
    if (auto exit_code = loadConfig("osago-aggregator", cfg, &AggregatorConfig::load)) return *exit_code;
    auto& log = Poco::Logger::get("aggregator");
    std::string instance_id = Poco::Environment::nodeName() + "-" + std::to_string(Poco::Process::id()) + "-" +
                              Poco::UUIDGenerator::defaultGenerator().createRandom().toString().substr(0, 8);
    if (!dependenciesReady(cfg)) return EXIT_UNAVAILABLE;

    // Two pools: the API's requests never queue behind the workers' partner
    // calls. The lease keeper has a connection of its own, bounded well within
    // a lease: a busy pool must not let leases lapse (another instance would
    // send a submit again).
    pg::Pool db(cfg.postgres_dsn, cfg.postgres_pool_size, cfg.postgres_settings);
    pg::Pool api_db(cfg.postgres_dsn, cfg.postgres_api_pool_size, cfg.postgres_settings);
    // New work is refused while this instance cannot serve it in time (docs/operations.md, load shedding).
    AdmissionControl admission(cfg.quotes.admission, cfg.quotes.workers);
    api_db.observeWaits([&](auto waited) { admission.observePoolWait(waited, std::chrono::steady_clock::now()); });
    pg::Pool lease_db(cfg.postgres_dsn, 1, cfg.leaseKeeperSettings(),
                      std::chrono::duration_cast<std::chrono::milliseconds>(cfg.quotes.lease) / 3);
    QuoteStore store(db);
    QuoteStore api_store(api_db);
    QuoteStore lease_store(lease_db);
    PluginSwitchStore switches(db);
    PluginRegistry plugins(cfg.plugins, &switches, instance_id);
    try {
      plugins.refreshSwitches();
    } catch (const std::exception& e) {
      log.warning(std::string("cannot read plugin switches yet: ") + e.what());
    }
    plugins.rescan();
    KafkaEventPublisher publisher(cfg.kafka, cfg.kafka_topic);
    OutboxRelay relay(store, publisher, instance_id);
    QuoteScheduler scheduler(store, lease_store, plugins, cfg.quotes, cfg.purchases, instance_id, [&] { relay.wake(); });
    scheduler.reportTo(admission);
    WorkAnnouncer announcer(api_db, QuoteStore::kWorkChannel);
    auth::ServiceTokenVerifier services(cfg.service_token.current, cfg.service_token.accepted, "osago-aggregator");
    QuoteApi api(api_store, plugins, services, admission, cfg.quotes.deadline, [] { return CivilDate::todayUtc(); }, [&] {
      relay.wake();
      scheduler.wake();     // this instance's workers at once
      announcer.announce();  // the other instances' within milliseconds
    }, cfg.purchases.deadline);
    WorkNotifier notifier(cfg.postgres_dsn, QuoteStore::kWorkChannel, [&] { scheduler.wake(); });
    RetentionSweeper sweeper(store, cfg.retention);
    PartnerHealthStore health_reports(db);
    FleetHealthReporter health_reporter(plugins, health_reports, instance_id);
    AdminApi admin(plugins, health_reports, cfg.admin_token, cfg.admin_token_accepted, cfg.admin_web_root);
    if (cfg.admin_token.empty()) log.warning("OSAGO_ADMIN_TOKEN is not set: the admin API refuses every call");

    exportScrapedGauges(plugins, api_store);

    auto* router = new http::Router;
    api.registerRoutes(*router);
    metrics::addEndpoint(*router);
    admin.registerRoutes(*router);
    addHealthRoutes(*router, api_store, publisher, plugins);
    auto server = http::makeServer(router, cfg.listen_host, cfg.listen_port, http::serverLimits(cfg.connections));

    relay.start();
    plugins.start();
    scheduler.start();
    notifier.start();
    announcer.start();
    health_reporter.start();
    sweeper.start();
    server->start();
    log.information("osago-aggregator " + instance_id + " listening on http://" + cfg.listen_host + ":" +
                    std::to_string(server->port()) + " with " + std::to_string(plugins.companies().size()) +
                    " companies from " + std::to_string(plugins.snapshot()->plugins.size()) + " plugins");
    waitForTerminationRequest();
    log.information("stopping: no new requests; handing back unstarted work, finishing calls in flight");
    // Requests being answered finish; idle kept-alive connections close now
    // (server.stop() left them open until their keep-alive timeout).
    server->stopAll(false);
    notifier.stop();
    announcer.stop();
    scheduler.stop();
    health_reporter.stop();
    sweeper.stop();
    plugins.stop();
    relay.stop();
    log.information("stopped");
    return EXIT_OK;
  }

 private:
  /// Migrates the database and waits for the topic (creating it if configured),
  /// retrying while they start; false (logged) when they do not come up.
  static bool dependenciesReady(const AggregatorConfig& cfg) {
    try {
      retryWhileStarting("PostgreSQL", [&] { applyMigrations(cfg.postgres_dsn); });
      retryWhileStarting("Kafka", [&] {
        if (cfg.kafka_create_topic) kafka::ensureTopic(cfg.kafka, cfg.kafka_topic, 6);
        kafka::requireTopic(cfg.kafka, cfg.kafka_topic);
      });
    } catch (const std::exception& e) {
      Poco::Logger::get("aggregator").fatal(e.what());
      return false;
    }
    return true;
  }
};

}  // namespace osago::host

POCO_SERVER_MAIN(osago::host::AggregatorApp)
