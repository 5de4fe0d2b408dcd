#pragma once

#include <osago/common/errors.hpp>
#include <osago/common/yaml_config.hpp>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/AutoPtr.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/Net/TCPServerDispatcher.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace osago::http {

namespace detail {
class ConnectionGuard;
class HeaderGate;
}  // namespace detail

/// An error a handler throws to answer with `status` and a JSON error body
/// {"error": code, "message": message, "fields": [...]}.
class HttpError : public Error {
 public:
  HttpError(int status, std::string code, const std::string& message, nlohmann::json fields = nullptr)
      : Error(message), status_(status), code_(std::move(code)), fields_(std::move(fields)) {}
  int status() const { return status_; }
  const std::string& code() const { return code_; }
  const nlohmann::json& fields() const { return fields_; }

 private:
  int status_;
  std::string code_;
  nlohmann::json fields_;
};

/// Named path parameters, e.g. {"id": "…"} for "/osago/requests/{id}".
using PathParams = std::map<std::string, std::string>;
using Handler = std::function<void(Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse&, const PathParams&)>;

struct RouteMetrics;

/// Routes requests by method and path pattern. Every handler runs inside a
/// boundary that maps HttpError to its status and anything else to a 500 with
/// a JSON body, so no exception reaches Poco. Each request is counted by its
/// route's pattern (never the raw path), method and status class, and timed
/// (osago_http_requests_total, osago_http_request_duration_seconds,
/// osago_http_requests_in_flight). Configure before the server starts;
/// afterwards it is read-only and thread-safe.
class Router : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  /// `pattern` segments in braces are parameters: "/osago/requests/{id}".
  void add(const std::string& method, const std::string& pattern, Handler handler);
  /// Paths starting with one of `prefixes` ("/metrics", "/health/") answer
  /// 404 to a request that came through a proxy (Forwarded, X-Forwarded-For or
  /// X-Real-IP present): probes and Prometheus reach the pod directly, the
  /// public entry never shows them.
  void internalOnly(std::vector<std::string> prefixes) { internal_prefixes_ = std::move(prefixes); }
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest& request) override;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Handler handler;
    std::shared_ptr<RouteMetrics> metrics;  ///< osago_http_* series of this method and pattern
  };
  std::vector<Route> routes_;
  std::vector<std::string> internal_prefixes_;
};

/// Whether a proxy passed the request on (it says so in Forwarded, X-Forwarded-For or X-Real-IP).
bool cameThroughProxy(const Poco::Net::HTTPServerRequest& request);

/// The Content-Security-Policy of our pages: their own scripts, styles and
/// connections only; no inline script or style, no framing, no plugins.
extern const char* const kContentSecurityPolicy;

/// A listening socket on host:port (port 0 picks a free one). Unlike Poco's
/// default it does not set SO_REUSEPORT, so a second instance on the same port
/// fails loudly instead of silently sharing the port. Throws Poco::Net exceptions.
Poco::Net::ServerSocket listen(const std::string& host, int port);

/// How many requests a server works on at once, and how long a client may take.
struct ServerLimits {
  int max_threads = 64;
  int max_queued = 256;
  /// A request's headers and body must arrive within this of its start — an
  /// absolute bound, unlike a socket timeout that a byte now and then resets;
  /// each read and write is bounded by it too.
  std::chrono::milliseconds request_timeout{10000};
  /// An idle kept-alive connection waits this long for its next request.
  std::chrono::milliseconds keep_alive{10000};
  /// Connections one client address may hold at once (0: no cap); more are
  /// closed at accept, or answered 503 TOO_MANY_CONNECTIONS.
  std::size_t max_connections_per_address = 0;
  /// New connections that may wait for their request head without a thread
  /// (plain HTTP only): past it, the oldest waiting is closed.
  std::size_t max_pending_connections = 4096;
};

/// The limits of a service's `listen` bounds: twice `max_connections` may wait
/// in the queue, and an idle kept-alive connection at most min(request deadline, 10 s).
ServerLimits serverLimits(const config::ConnectionBounds& bounds);

/// A service's HTTP server (Poco's connection handling, thread per connection)
/// with the bounds of ServerLimits enforced on every connection.
class Server : public Poco::Net::TCPServer {
 public:
  /// With `hold_heads` (a plain socket: the head can be peeked at), each new
  /// connection waits for its whole request head without a thread (HeaderGate).
  Server(Poco::Net::HTTPRequestHandlerFactory::Ptr router, const Poco::Net::ServerSocket& socket, const ServerLimits& limits,
         bool hold_heads = false);
  ~Server() override;
  /// Stops accepting; requests being answered finish, idle kept-alive
  /// connections (and those still sending a request) close now — all
  /// connections with `abort_current` — as Poco's HTTPServer::stopAll.
  void stopAll(bool abort_current = false);

 private:
  /// The guard goes both to the connections (through their factory) and to the server.
  Server(std::tuple<Poco::Net::TCPServerConnectionFactory::Ptr, Poco::Net::HTTPServerParams::Ptr,
                    std::shared_ptr<detail::ConnectionGuard>> parts,
         const Poco::Net::ServerSocket& socket, const ServerLimits& limits, bool hold_heads);

  std::shared_ptr<detail::ConnectionGuard> guard_;
  /// With a gate: the dispatcher its connections go to (the TCPServer's own gets none).
  Poco::AutoPtr<Poco::Net::TCPServerDispatcher> dispatcher_;
  std::unique_ptr<detail::HeaderGate> gate_;
};

/// The HTTP server of a service: `router` on a socket from listen(host, port),
/// with `limits`; not started. Its port() is the one really bound.
std::unique_ptr<Server> makeServer(Router* router, const std::string& host, int port, const ServerLimits& limits);
/// The same with a factory that other servers share (e.g. an HTTPS one).
std::unique_ptr<Server> makeServer(Poco::Net::HTTPRequestHandlerFactory::Ptr router, const std::string& host, int port,
                                   const ServerLimits& limits);
/// The same on a socket of the caller's (e.g. a TLS one; `hold_heads` only for a plain one).
std::unique_ptr<Server> makeServer(Poco::Net::HTTPRequestHandlerFactory::Ptr router, const Poco::Net::ServerSocket& socket,
                                   const ServerLimits& limits, bool hold_heads = false);

/// Writes `body` as application/json with `status`.
void sendJson(Poco::Net::HTTPServerResponse& response, int status, const nlohmann::json& body);

/// Writes the standard JSON error body.
void sendError(Poco::Net::HTTPServerResponse& response, int status, const std::string& code,
               const std::string& message, const nlohmann::json& fields = nullptr);

/// Reads and parses the request body as JSON (at most `max_bytes`); throws
/// HttpError 400/413, and 408 when the body did not arrive within the request deadline.
nlohmann::json readJsonBody(Poco::Net::HTTPServerRequest& request, std::size_t max_bytes = 64 * 1024);

/// How deeply a request body's JSON may nest (arrays and objects).
inline constexpr int kMaxBodyDepth = 64;

/// Parses a request body as JSON: HttpError 400 INVALID_JSON when it is empty,
/// not JSON (including a number no double holds) or nested deeper than kMaxBodyDepth.
nlohmann::json parseJsonBody(std::string_view body);

/// Answers with the file `name` of the directory `root` (html, js, css, svg, png;
/// no sub-directories): 404 for anything else. Cache-Control: no-cache.
void sendStaticFile(Poco::Net::HTTPServerResponse& response, const std::string& root, const std::string& name);

/// The value of the query parameter `name` of the request's URI, or empty.
/// Throws HttpError 400 BAD_URI when the query is not validly percent-encoded.
std::string queryParameter(const Poco::Net::HTTPServerRequest& request, const std::string& name);
/// The same for a request target as it came (`/path?query`).
std::string queryParameter(const std::string& uri, const std::string& name);

/// The decoded path of a request target (`/path?query`), or nothing when the
/// target is not a valid URI (a bad percent escape, …): the router answers 400.
std::optional<std::string> requestPath(const std::string& uri);

/// The bearer token of the Authorization header, or empty.
std::string bearerToken(const Poco::Net::HTTPServerRequest& request);
/// The same from the header's value.
std::string bearerToken(const std::string& authorization);

}  // namespace osago::http
