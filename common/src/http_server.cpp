#include <osago/common/http_server.hpp>

#include <osago/common/errors.hpp>
#include <osago/common/metrics.hpp>
#include <osago/common/outside_json.hpp>

#include "connection_guard.hpp"
#include "header_gate.hpp"

#include <Poco/Logger.h>
#include <Poco/Net/HTTPServerConnection.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/TCPServerConnectionFactory.h>
#include <Poco/Net/NetException.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <istream>
#include <sstream>

namespace osago::http {

/// One route's request series, made when the route is added: a request only
/// increments and observes, with no label lookup on its path.
struct RouteMetrics {
  prometheus::Gauge* in_flight;
  prometheus::Histogram* duration;
  prometheus::Counter* by_class[5];  ///< 1xx … 5xx
  prometheus::Counter* aborted;      ///< the client went away before the answer was sent

  /// `method` and `route` are ours (a route's pattern, or "unmatched"), never the request's text.
  RouteMetrics(const std::string& method, const std::string& route) {
    static auto& requests = metrics::counter(
        "osago_http_requests_total",
        "HTTP requests answered, by route pattern, method and status class (1xx-5xx; aborted: the client left first)");
    static auto& durations = metrics::histogram(
        "osago_http_request_duration_seconds",
        "Time from a request's head to the end of its answer, by route pattern and method (a stream: its whole life)");
    static auto& flight = metrics::gauge("osago_http_requests_in_flight", "HTTP requests being answered now, by route pattern");
    prometheus::Labels labels{{"route", route}, {"method", method}};
    in_flight = &flight.Add({{"route", route}});
    duration = &durations.Add(labels, metrics::requestBuckets());
    static const char* const kClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    for (int i = 0; i < 5; ++i) {
      auto l = labels;
      l["status"] = kClasses[i];
      by_class[i] = &requests.Add(l);
    }
    auto l = labels;
    l["status"] = "aborted";
    aborted = &requests.Add(l);
  }

  void done(Poco::Net::HTTPServerResponse& response, std::chrono::steady_clock::time_point started) {
    int status = static_cast<int>(response.getStatus());
    if (!response.sent()) aborted->Increment();
    else if (status >= 100 && status < 600) by_class[status / 100 - 1]->Increment();
    duration->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
};

namespace {

/// Requests that matched no route (404, 405, a bad URI), counted together:
/// their paths and methods are the client's text, unbounded.
RouteMetrics& unmatchedMetrics() {
  static RouteMetrics m("any", "unmatched");
  return m;
}

std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : path) {
    if (c == '/') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

/// A body the handler left unread (it answered an error first, or ignores the
/// body) would be parsed as the next request on a kept-alive connection.
/// Small leftovers are read away; a larger one closes the connection after the answer.
void finishRequestBody(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
  bool has_body = request.getChunkedTransferEncoding() || (request.hasContentLength() && request.getContentLength64() > 0);
  if (!has_body) return;
  try {
    std::istream& in = request.stream();
    char sink[4096];
    std::size_t left = 64 * 1024;
    while (left > 0 && in.read(sink, sizeof sink).gcount() > 0) left -= std::min<std::size_t>(left, static_cast<std::size_t>(in.gcount()));
    if (!in.eof()) response.setKeepAlive(false);
  } catch (const std::exception&) {
    response.setKeepAlive(false);
  }
}

class BoundHandler : public Poco::Net::HTTPRequestHandler {
 public:
  BoundHandler(const Handler* handler, PathParams params, RouteMetrics* metrics = nullptr)
      : handler_(handler), params_(std::move(params)), metrics_(metrics ? *metrics : unmatchedMetrics()) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
    auto started = std::chrono::steady_clock::now();
    metrics_.in_flight->Increment();
    answer(request, response);
    metrics_.in_flight->Decrement();
    metrics_.done(response, started);
  }

  int status_ = 404;

 private:
  void answer(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
    try {
      if (!handler_) {
        if (status_ == 400)
          sendError(response, 400, "BAD_URI", "the address is not a valid URI (a bad percent escape?)");
        else
          sendError(response, status_, status_ == 404 ? "NOT_FOUND" : "METHOD_NOT_ALLOWED",
                    status_ == 404 ? "no such resource: " + request.getURI()
                                   : "method " + request.getMethod() + " is not allowed here");
        return;
      }
      detail::ConnectionGuard::handlerStarted(request.getChunkedTransferEncoding() ||
                                              (request.hasContentLength() && request.getContentLength64() > 0));
      (*handler_)(request, response, params_);
    } catch (const HttpError& e) {
      if (!response.sent()) sendError(response, e.status(), e.code(), e.what(), e.fields());
    } catch (const Poco::Net::NetException& e) {
      // The client went away mid-answer: nothing left to tell it.
      Poco::Logger::get("http").debug("connection ended: " + e.displayText());
    } catch (const std::exception& e) {
      Poco::Logger::get("http").error(std::string("unhandled error in ") + request.getMethod() + " " +
                                      requestPath(request.getURI()).value_or("?") + ": " + errorText(e));
      if (!response.sent()) sendError(response, 500, "INTERNAL", "internal error; see the service log");
    }
    finishRequestBody(request, response);
    detail::ConnectionGuard::requestDone();
  }

  const Handler* handler_;
  PathParams params_;
  RouteMetrics& metrics_;
};

/// One connection: Poco's HTTP handling inside the guard's bounds, or a 503
/// when its client address holds as many connections as it may.
class GuardedConnection : public Poco::Net::TCPServerConnection {
 public:
  GuardedConnection(const Poco::Net::StreamSocket& socket, Poco::Net::HTTPServerParams::Ptr params,
                    Poco::Net::HTTPRequestHandlerFactory::Ptr router, std::shared_ptr<detail::ConnectionGuard> guard)
      : TCPServerConnection(socket), params_(std::move(params)), router_(std::move(router)), guard_(std::move(guard)) {}

  void run() override {
    detail::ConnectionGuard::Scope scope(*guard_, socket());
    if (!scope.admitted()) return refuse();
    Poco::Net::HTTPServerConnection http(socket(), params_, router_);
    http.run();
  }

 private:
  void refuse() {
    static const std::string answer = [] {
      std::string body = R"({"error":"TOO_MANY_CONNECTIONS","message":"this address holds as many connections as it may; close some and retry"})";
      return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\n"
             "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    }();
    try {
      socket().setSendTimeout(Poco::Timespan(1, 0));
      socket().sendBytes(answer.data(), static_cast<int>(answer.size()));
      socket().shutdownSend();
    } catch (const std::exception&) {
      // It left already.
    }
  }

  Poco::Net::HTTPServerParams::Ptr params_;
  Poco::Net::HTTPRequestHandlerFactory::Ptr router_;
  std::shared_ptr<detail::ConnectionGuard> guard_;
};

class GuardedConnectionFactory : public Poco::Net::TCPServerConnectionFactory {
 public:
  GuardedConnectionFactory(Poco::Net::HTTPServerParams::Ptr params, Poco::Net::HTTPRequestHandlerFactory::Ptr router,
                           std::shared_ptr<detail::ConnectionGuard> guard)
      : params_(std::move(params)), router_(std::move(router)), guard_(std::move(guard)) {}
  Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& socket) override {
    return new GuardedConnection(socket, params_, router_, guard_);
  }

 private:
  Poco::Net::HTTPServerParams::Ptr params_;
  Poco::Net::HTTPRequestHandlerFactory::Ptr router_;
  std::shared_ptr<detail::ConnectionGuard> guard_;
};

/// At accept: closes a connection whose address holds its share already (it
/// never waits in the queue); with a gate, takes the rest there (the server's
/// own queue gets none: the gate hands them to the server's dispatcher).
class AcceptFilter : public Poco::Net::TCPServerConnectionFilter {
 public:
  AcceptFilter(std::shared_ptr<detail::ConnectionGuard> guard, detail::HeaderGate* gate)
      : guard_(std::move(guard)), gate_(gate) {}
  bool accept(const Poco::Net::StreamSocket& socket) override {
    if (guard_->capsAddresses() && !guard_->admit(socket)) return false;
    if (!gate_) return true;
    gate_->offer(socket);
    return false;
  }

 private:
  std::shared_ptr<detail::ConnectionGuard> guard_;
  detail::HeaderGate* gate_;
};

Poco::Net::HTTPServerParams::Ptr serverParams(const ServerLimits& limits) {
  Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(limits.max_threads);
  params->setMaxQueued(limits.max_queued);
  params->setTimeout(Poco::Timespan(limits.request_timeout.count() * 1000));
  params->setKeepAliveTimeout(Poco::Timespan(limits.keep_alive.count() * 1000));
  return params;
}

}  // namespace

Server::Server(Poco::Net::HTTPRequestHandlerFactory::Ptr router, const Poco::Net::ServerSocket& socket,
               const ServerLimits& limits, bool hold_heads)
    : Server(
          [&] {
            auto params = serverParams(limits);
            auto guard = std::make_shared<detail::ConnectionGuard>(limits);
            return std::make_tuple(Poco::Net::TCPServerConnectionFactory::Ptr(
                                       new GuardedConnectionFactory(params, std::move(router), guard)),
                                   params, guard);
          }(),
          socket, limits, hold_heads) {}

Server::Server(std::tuple<Poco::Net::TCPServerConnectionFactory::Ptr, Poco::Net::HTTPServerParams::Ptr,
                          std::shared_ptr<detail::ConnectionGuard>> parts,
               const Poco::Net::ServerSocket& socket, const ServerLimits& limits, bool hold_heads)
    : Poco::Net::TCPServer(std::get<0>(parts), socket, std::get<1>(parts)), guard_(std::get<2>(parts)) {
  if (hold_heads) {
    dispatcher_ = new Poco::Net::TCPServerDispatcher(std::get<0>(parts), Poco::ThreadPool::defaultPool(), std::get<1>(parts));
    auto* dispatcher = dispatcher_.get();
    gate_ = std::make_unique<detail::HeaderGate>(limits.request_timeout, limits.max_pending_connections,
                                                 limits.max_connections_per_address,
                                                 [dispatcher](const Poco::Net::StreamSocket& s) { dispatcher->enqueue(s); });
  }
  if (guard_->capsAddresses() || gate_) setConnectionFilter(new AcceptFilter(guard_, gate_.get()));
}

// Every connection has ended (or 2 s have passed) before the server goes: no
// thread of it runs on into the process's exit.
Server::~Server() {
  stopAll(true);
  guard_->shutdown(true, std::chrono::seconds(2));
}

void Server::stopAll(bool abort_current) {
  stop();
  if (gate_) gate_->stop();
  if (dispatcher_) dispatcher_->stop();
  guard_->shutdown(abort_current, std::chrono::milliseconds(0));
}

void Router::add(const std::string& method, const std::string& pattern, Handler handler) {
  routes_.push_back(Route{method, splitPath(pattern), std::move(handler), std::make_shared<RouteMetrics>(method, pattern)});
}

const char* const kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

bool cameThroughProxy(const Poco::Net::HTTPServerRequest& request) {
  return request.has("Forwarded") || request.has("X-Forwarded-For") || request.has("X-Real-IP");
}

Poco::Net::HTTPRequestHandler* Router::createRequestHandler(const Poco::Net::HTTPServerRequest& request) {
  const auto decoded = requestPath(request.getURI());
  if (!decoded) {
    auto* bad = new BoundHandler(nullptr, {});
    bad->status_ = 400;
    return bad;
  }
  const std::string& path = *decoded;
  if (!internal_prefixes_.empty() && cameThroughProxy(request)) {
    for (const auto& prefix : internal_prefixes_)
      if (path.rfind(prefix, 0) == 0) return new BoundHandler(nullptr, {});  // 404, as if it were not there
  }
  auto segments = splitPath(path);
  bool path_matched = false;
  for (const auto& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    PathParams params;
    bool ok = true;
    for (std::size_t i = 0; i < segments.size() && ok; ++i) {
      const auto& s = route.segments[i];
      if (s.size() > 2 && s.front() == '{' && s.back() == '}') {
        params[s.substr(1, s.size() - 2)] = segments[i];
      } else if (s != segments[i]) {
        ok = false;
      }
    }
    if (!ok) continue;
    path_matched = true;
    if (route.method == request.getMethod()) return new BoundHandler(&route.handler, std::move(params), route.metrics.get());
  }
  auto* h = new BoundHandler(nullptr, {});
  h->status_ = path_matched ? 405 : 404;
  return h;
}

Poco::Net::ServerSocket listen(const std::string& host, int port) {
  Poco::Net::ServerSocket socket;
  socket.bind(Poco::Net::SocketAddress(host, static_cast<Poco::UInt16>(port)), /*reuseAddress=*/true, /*reusePort=*/false);
  socket.listen(128);
  return socket;
}

ServerLimits serverLimits(const config::ConnectionBounds& bounds) {
  return {.max_threads = bounds.max_connections,
          .max_queued = bounds.max_connections * 2,
          .request_timeout = bounds.request_timeout,
          .keep_alive = std::min(bounds.request_timeout, std::chrono::milliseconds(10000)),
          .max_connections_per_address = static_cast<std::size_t>(bounds.max_connections_per_address),
          .max_pending_connections = static_cast<std::size_t>(bounds.max_pending_connections)};
}

std::unique_ptr<Server> makeServer(Router* router, const std::string& host, int port, const ServerLimits& limits) {
  return makeServer(Poco::Net::HTTPRequestHandlerFactory::Ptr(router), host, port, limits);
}

std::unique_ptr<Server> makeServer(Poco::Net::HTTPRequestHandlerFactory::Ptr router, const std::string& host, int port,
                                   const ServerLimits& limits) {
  return makeServer(std::move(router), listen(host, port), limits, true);
}

std::unique_ptr<Server> makeServer(Poco::Net::HTTPRequestHandlerFactory::Ptr router, const Poco::Net::ServerSocket& socket,
                                   const ServerLimits& limits, bool hold_heads) {
  return std::make_unique<Server>(std::move(router), socket, limits, hold_heads);
}

void sendJson(Poco::Net::HTTPServerResponse& response, int status, const nlohmann::json& body) {
  // Bytes that are not UTF-8 (a client's, quoted back in an error) become U+FFFD:
  // a strict dump would throw, and the client would get no answer at all.
  std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  response.setContentType("application/json; charset=utf-8");
  response.setContentLength(static_cast<std::streamsize>(text.size()));
  response.send() << text;
}

void sendError(Poco::Net::HTTPServerResponse& response, int status, const std::string& code,
               const std::string& message, const nlohmann::json& fields) {
  nlohmann::json body{{"error", code}, {"message", message}};
  if (!fields.is_null()) body["fields"] = fields;
  sendJson(response, status, body);
}

nlohmann::json readJsonBody(Poco::Net::HTTPServerRequest& request, std::size_t max_bytes) {
  if (request.hasContentLength() && request.getContentLength64() > static_cast<Poco::Int64>(max_bytes))
    throw HttpError(413, "BODY_TOO_LARGE", "request body is larger than " + std::to_string(max_bytes) + " bytes");
  // A buffer of the announced length (+1, to see a body longer than announced), not of
  // max_bytes: allocating and zeroing the whole bound for every request was a tenth of
  // a create's cost. Without a length (chunked), it grows as the body arrives.
  std::string body;
  auto tooSlow = [] {
    return HttpError(408, "REQUEST_TIMEOUT", "the request body did not arrive within the request deadline");
  };
  try {
    std::size_t step = request.hasContentLength() ? static_cast<std::size_t>(request.getContentLength64()) + 1 : 16 * 1024;
    std::size_t have = 0;
    while (have <= max_bytes) {
      body.resize(std::min(max_bytes + 1, have + std::max<std::size_t>(step, 1)));
      request.stream().read(body.data() + have, static_cast<std::streamsize>(body.size() - have));
      have += static_cast<std::size_t>(request.stream().gcount());
      if (have < body.size()) break;  // the end of the body
      step = std::max<std::size_t>(have, 16 * 1024);  // longer than announced, or chunked: double
    }
    body.resize(have);
  } catch (const Poco::TimeoutException&) {
    throw tooSlow();
  } catch (const Poco::Net::NetException&) {
    if (detail::ConnectionGuard::deadlinePassed()) throw tooSlow();
    throw;
  }
  if (detail::ConnectionGuard::deadlinePassed()) throw tooSlow();
  detail::ConnectionGuard::requestRead();
  if (body.size() > max_bytes)
    throw HttpError(413, "BODY_TOO_LARGE", "request body is larger than " + std::to_string(max_bytes) + " bytes");
  return parseJsonBody(body);
}

nlohmann::json parseJsonBody(std::string_view body) {
  if (body.empty()) throw HttpError(400, "INVALID_JSON", "request body is empty; a JSON object is expected");
  std::string why;
  auto doc = parseOutside(body, kMaxBodyDepth, &why);
  if (doc.is_discarded()) throw HttpError(400, "INVALID_JSON", "request body is not valid JSON: " + why);
  return doc;
}

std::string bearerToken(const Poco::Net::HTTPServerRequest& request) {
  // A copy: without the header, get() returns its default argument, a temporary
  // that a reference would outlive (AddressSanitizer: stack-use-after-scope).
  return bearerToken(std::string(request.get("Authorization", "")));
}

std::string bearerToken(const std::string& authorization) {
  static const std::string kPrefix = "Bearer ";
  if (authorization.size() > kPrefix.size() && authorization.compare(0, kPrefix.size(), kPrefix) == 0)
    return authorization.substr(kPrefix.size());
  return {};
}

void sendStaticFile(Poco::Net::HTTPServerResponse& response, const std::string& root, const std::string& name) {
  static const std::map<std::string, std::string> kTypes = {
      {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"}, {".png", "image/png"}};
  auto dot = name.rfind('.');
  auto type = dot == std::string::npos ? kTypes.end() : kTypes.find(name.substr(dot));
  if (type == kTypes.end() || name.find('/') != std::string::npos || name.find("..") != std::string::npos)
    throw HttpError(404, "NOT_FOUND", "no such file");
  std::ifstream file(root + "/" + name, std::ios::binary);
  if (!file) throw HttpError(404, "NOT_FOUND", "no such file");
  std::ostringstream content;
  content << file.rdbuf();
  std::string text = content.str();
  response.setContentType(type->second);
  response.set("Cache-Control", "no-cache");
  response.set("X-Content-Type-Options", "nosniff");
  response.set("Content-Security-Policy", kContentSecurityPolicy);
  response.set("X-Frame-Options", "DENY");
  response.set("Referrer-Policy", "no-referrer");
  response.setContentLength(static_cast<std::streamsize>(text.size()));
  response.send() << text;
}

std::string queryParameter(const Poco::Net::HTTPServerRequest& request, const std::string& name) {
  return queryParameter(request.getURI(), name);
}

std::string queryParameter(const std::string& uri, const std::string& name) {
  Poco::URI::QueryParameters parameters;
  try {
    parameters = Poco::URI(uri).getQueryParameters();
  } catch (const Poco::SyntaxException&) {
    throw HttpError(400, "BAD_URI", "the query of the address is not validly percent-encoded");
  }
  for (const auto& [key, value] : parameters)
    if (key == name) return value;
  return "";
}

std::optional<std::string> requestPath(const std::string& uri) {
  try {
    return Poco::URI(uri).getPath();
  } catch (const Poco::SyntaxException&) {
    return std::nullopt;
  }
}

}  // namespace osago::http
