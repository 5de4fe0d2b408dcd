// core-app: the back end of the web application. Accepts the driver's quote
// request, forwards it to osago-aggregator, and streams the request's events
// from Kafka to the driver's browser.
#include "api/core_api.hpp"
#include "auth/token_service.hpp"
#include "clients/aggregator_client.hpp"
#include "config/core_config.hpp"
#include "streaming/event_hub.hpp"
#include "streaming/quote_event_consumer.hpp"
#include "streaming/stream_reactor.hpp"

#include <osago/common/kafka_topics.hpp>
#include <osago/common/metrics.hpp>
#include <osago/common/service_app.hpp>

#include <Poco/Net/HTTPServer.h>

#include <sys/resource.h>

namespace osago::core {
namespace {

/// Every open stream is a socket: raise the soft descriptor limit to the hard one.
void raiseFileLimit(std::size_t streams, Poco::Logger& log) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < streams + 1024)
    log.warning("the open-file limit is " + std::to_string(limit.rlim_cur) + ": fewer than streams.max_streams (" +
                std::to_string(streams) + ") + 1024 sockets can be open; raise LimitNOFILE / ulimit -n");
}

}  // namespace

class CoreApp : public ServiceApplication {
 protected:
  int main(const std::vector<std::string>&) override {
    CoreConfig cfg;
    if (auto exit_code = loadConfig("core-app", cfg, &CoreConfig::load)) return *exit_code;
    auto& log = Poco::Logger::get("core-app");
    try {
      // The topic comes from the operator or the aggregator (kafka.create_topic): core-app waits for it.
      retryWhileStarting("Kafka", [&] { kafka::requireTopic(cfg.kafka, cfg.kafka_topic); });
    } catch (const std::exception& e) {
      log.fatal(e.what());
      return EXIT_UNAVAILABLE;
    }

    TokenService tokens(cfg.token_secret, cfg.token_ttl, cfg.token_secret_accepted);
    AggregatorClient aggregator(cfg.aggregator_url, cfg.service_token_secret, cfg.aggregator_timeout, cfg.aggregator_breaker);
    ClientInfoClient client_info(cfg.client_info_url, cfg.client_info_timeout, cfg.client_info_breaker);
    RateLimiter limiter(cfg.limits);
    raiseFileLimit(static_cast<std::size_t>(cfg.max_streams), log);
    StreamReactor::Options stream_options;
    stream_options.max_streams = static_cast<std::size_t>(cfg.max_streams);
    stream_options.heartbeat = cfg.stream_heartbeat;
    stream_options.max_unsent_bytes = static_cast<std::size_t>(cfg.stream_max_unsent_kb) * 1024;
    stream_options.max_total_unsent_bytes = static_cast<std::size_t>(cfg.stream_max_total_unsent_mb) * 1024 * 1024;
    stream_options.max_streams_per_user = static_cast<std::size_t>(cfg.max_streams_per_user);
    stream_options.read_budget_bytes = static_cast<std::size_t>(cfg.stream_read_budget_kb) * 1024;
    stream_options.write_stall = std::chrono::milliseconds(cfg.stream_write_stall_ms);
    stream_options.socket_send_buffer_bytes = cfg.stream_send_buffer_kb * 1024;
    stream_options.fanout_threads = cfg.stream_fanout_threads;
    StreamReactor streams(stream_options, [&](const std::string& id) { return aggregator.getRequest(id); });
    EventHub hub([&](const nlohmann::json& event) { streams.deliver(event); });
    QuoteEventConsumer consumer(cfg.kafka, cfg.kafka_topic, hub);
    CoreApi api(cfg, tokens, aggregator, client_info, limiter, streams, [&] { return consumer.ready(); });

    metrics::onScrape([&] {
      static auto& open = metrics::gauge("osago_core_open_streams", "Open SSE and WebSocket streams on this instance");
      static auto& breakers = metrics::gauge("osago_core_dependency_breaker_state",
                                             "Circuit breaker per dependency: 0 closed, 1 half-open, 2 open");
      open.Add({}).Set(static_cast<double>(streams.openStreams()));
      static auto& unsent = metrics::gauge("osago_core_stream_unsent_bytes",
                                           "Bytes written to browser streams that their clients have not taken yet, all together")
                                .Add({});
      unsent.Set(static_cast<double>(streams.unsentBytes()));
      breakers.Add({{"dependency", "osago-aggregator"}}).Set(metrics::breakerLevel(aggregator.breakerState()));
      breakers.Add({{"dependency", "client-info"}}).Set(metrics::breakerLevel(client_info.breakerState()));
    });

    auto* router = new http::Router;
    api.registerRoutes(*router);
    metrics::addEndpoint(*router);
    // What probes and Prometheus read is not for the public: refused through the ingress.
    router->internalOnly({"/metrics", "/health/"});
    // A slow or stalled client holds an HTTP thread at most the request
    // deadline for its headers and body (however it spaces its bytes), at
    // most 10 s idle between requests, and one address only its share of them.
    auto server = http::makeServer(router, cfg.listen_host, cfg.listen_port, http::serverLimits(cfg.connections));

    streams.start();
    consumer.start();
    server->start();
    log.information("core-app listening on http://" + cfg.listen_host + ":" + std::to_string(server->port()) +
                    (cfg.dev_login_enabled ? " (dev login enabled)" : ""));
    waitForTerminationRequest();
    log.information("stopping");
    server->stopAll(true);
    consumer.stop();
    streams.stop();
    return EXIT_OK;
  }
};

}  // namespace osago::core

POCO_SERVER_MAIN(osago::core::CoreApp)
