#pragma once

#include "resilience/rate_limiter.hpp"

#include <osago/common/circuit_breaker.hpp>
#include <osago/common/kafka_client.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace osago::core {

/// The whole configuration of core-app (config/core-app.yaml).
struct CoreConfig {
  std::string listen_host = "127.0.0.1";
  int listen_port = 8080;
  /// HTTP threads (a stream holds one only while it opens), the request deadline, the cap per client address.
  config::ConnectionBounds connections{.max_connections = 256};
  std::string log_level = "information";
  std::string log_format = "json";                ///< json (JSON Lines) or text
  std::string aggregator_url = "http://127.0.0.1:8081";
  std::chrono::milliseconds aggregator_timeout{300};
  BreakerConfig aggregator_breaker = downstreamBreaker();
  std::string client_info_url = "http://127.0.0.1:8095";
  std::chrono::milliseconds client_info_timeout{200};
  BreakerConfig client_info_breaker = downstreamBreaker();
  RateLimits limits;
  kafka::ClientSettings kafka;  ///< brokers and how they are reached
  std::string kafka_topic = "osago.quote-events";
  bool dev_login_enabled = false;                 ///< POST /api/dev/login exists only when true
  std::chrono::seconds token_ttl{3600};
  std::string token_secret;                       ///< from OSAGO_TOKEN_SECRET only
  std::string token_secret_accepted;              ///< OSAGO_TOKEN_SECRET_ACCEPTED: also verifies (rotation)
  std::string service_token_secret;               ///< OSAGO_SERVICE_TOKEN_SECRET: signs the calls to the aggregator
  std::string web_root = "web";                   ///< static files of the browser UI
  /// Origins (scheme://host[:port]) whose pages may open WebSocket streams;
  /// empty: only a page of the host it asks (Origin's host:port = Host).
  std::vector<std::string> allowed_origins;
  /// The public entry serves HTTPS (a TLS-terminating ingress): the session
  /// cookie is Secure and pages send HSTS. Also when X-Forwarded-Proto is https.
  bool https = false;
  std::chrono::seconds stream_heartbeat{15};
  int max_streams = 20000;                        ///< open SSE + WebSocket streams per instance
  int stream_max_unsent_kb = 1024;                ///< a client this far behind is dropped; it resumes by seq
  int stream_max_total_unsent_mb = 64;            ///< every stream together; past it the one growing is dropped
  int max_streams_per_user = 20;                  ///< one user's streams per instance
  int stream_read_budget_kb = 64;                 ///< read from one client per turn of the event loop
  int stream_write_stall_ms = 30000;              ///< a client that takes no byte of what waits this long is dropped
  int stream_send_buffer_kb = 64;                 ///< SO_SNDBUF of each stream socket
  int stream_fanout_threads = 1;                  ///< threads helping the reactor send one event to many streams

  /// Breaker defaults for core-app's own dependencies: quick to open, quick to retry.
  static BreakerConfig downstreamBreaker() {
    BreakerConfig b;
    b.window_calls = 20;
    b.minimum_calls = 5;
    b.failure_rate = 0.5;
    b.slow_call = std::chrono::milliseconds(1000);
    b.open_wait = std::chrono::milliseconds(5000);
    b.half_open_calls = 2;
    b.half_open_max = std::chrono::milliseconds(2000);
    return b;
  }

  /// Parses `file` (unknown keys are errors), then applies environment
  /// overrides (docs/configuration.md). Throws ConfigError.
  static CoreConfig load(const std::string& file);
};

}  // namespace osago::core
