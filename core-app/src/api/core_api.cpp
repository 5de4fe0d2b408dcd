#include "api/core_api.hpp"

#include "streaming/stream_relay.hpp"

#include <osago/common/ids.hpp>
#include <osago/common/trace_context.hpp>
#include <osago/common/metrics.hpp>
#include <osago/common/quote_input.hpp>

#include <Poco/Logger.h>
#include <Poco/Net/HTTPCookie.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

namespace osago::core {
namespace {

using nlohmann::json;

constexpr const char* kCookie = "osago_token";

bool validUserId(const std::string& s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

/// Calls the aggregator, turning "no answer" into a 503 the browser can retry.
template <typename Fn>
auto callAggregator(Fn&& fn) {
  try {
    return fn();
  } catch (const http::ClientError& e) {
    Poco::Logger::get("api").warning(std::string("osago-aggregator: ") + e.what());
    throw http::HttpError(503, "AGGREGATOR_UNAVAILABLE", "the quote service is not answering; try again in a few seconds");
  }
}

}  // namespace

CoreApi::CoreApi(const CoreConfig& config, TokenService& tokens, AggregatorClient& aggregator,
                 ClientInfoClient& client_info, RateLimiter& limiter, StreamReactor& streams, std::function<bool()> ready)
    : config_(config), tokens_(tokens), aggregator_(aggregator), client_info_(client_info), limiter_(limiter), streams_(streams),
      ready_(std::move(ready)) {}

void CoreApi::registerRoutes(http::Router& router) {
  if (config_.dev_login_enabled)
    router.add("POST", "/api/dev/login", [this](auto& req, auto& resp, const auto&) { login(req, resp); });
  router.add("GET", "/api/profile", [this](auto& req, auto& resp, const auto&) { profile(req, resp); });
  router.add("POST", "/api/osago/requests", [this](auto& req, auto& resp, const auto&) { create(req, resp); });
  router.add("GET", "/api/osago/requests/{id}", [this](auto& req, auto& resp, const auto& p) { get(req, resp, p.at("id")); });
  router.add("POST", "/api/osago/requests/{id}/offers/{companyId}/purchase",
             [this](auto& req, auto& resp, const auto& p) { purchase(req, resp, p.at("id"), p.at("companyId")); });
  router.add("GET", "/api/osago/requests/{id}/stream",
             [this](auto& req, auto& resp, const auto& p) { stream(req, resp, p.at("id")); });
  router.add("GET", "/api/osago/requests/{id}/ws",
             [this](auto& req, auto& resp, const auto& p) { webSocket(req, resp, p.at("id")); });
  router.add("GET", "/", [this](auto& req, auto& resp, const auto&) { page(req, resp, "index.html"); });
  router.add("GET", "/static/{file}", [this](auto& req, auto& resp, const auto& p) { page(req, resp, p.at("file")); });
  router.add("GET", "/health/live", [](auto&, auto& resp, const auto&) { http::sendJson(resp, 200, {{"status", "UP"}}); });
  router.add("GET", "/health/ready", [this](auto&, auto& resp, const auto&) {
    bool ok = ready_();
    http::sendJson(resp, ok ? 200 : 503,
                   {{"status", ok ? "UP" : "DOWN"},
                    {"kafkaConsumer", ok ? "assigned" : "waiting"},
                    {"aggregatorBreaker", CircuitBreaker::name(aggregator_.breakerState())},
                    {"clientInfoBreaker", CircuitBreaker::name(client_info_.breakerState())},
                    {"openStreams", streams_.openStreams()}});
  });
}

bool CoreApi::overTls(const Poco::Net::HTTPServerRequest& request) const {
  return config_.https || Poco::icompare(request.get("X-Forwarded-Proto", ""), "https") == 0;
}

void CoreApi::page(const Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response,
                   const std::string& file) {
  if (overTls(request)) response.set("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
  http::sendStaticFile(response, config_.web_root, file);
}

void CoreApi::checkOrigin(const Poco::Net::HTTPServerRequest& request) const {
  // Browsers always send Origin with a WebSocket handshake; a page of another site
  // would otherwise ride on the driver's cookie (WebSocket has no CORS).
  std::string origin = request.get("Origin", "");
  if (origin.empty()) return;  // not a browser
  bool allowed = false;
  if (config_.allowed_origins.empty()) {
    auto scheme = origin.find("://");
    allowed = scheme != std::string::npos && Poco::icompare(origin.substr(scheme + 3), request.getHost()) == 0;
  } else {
    for (const auto& o : config_.allowed_origins) allowed = allowed || Poco::icompare(o, origin) == 0;
  }
  if (!allowed)
    throw http::HttpError(403, "ORIGIN_NOT_ALLOWED", "streams may be opened only from this site's own pages");
}

UserIdentity CoreApi::authenticate(const Poco::Net::HTTPServerRequest& request) const {
  std::string token = http::bearerToken(request);
  if (token.empty()) {
    Poco::Net::NameValueCollection cookies;
    request.getCookies(cookies);
    token = cookies.get(kCookie, "");
  }
  if (token.empty()) throw http::HttpError(401, "UNAUTHORIZED", "sign in first: no token in the Authorization header or cookie");
  try {
    return tokens_.verify(token);
  } catch (const Error& e) {
    throw http::HttpError(401, "UNAUTHORIZED", std::string(e.what()) + "; sign in again");
  }
}

UserIdentity CoreApi::admit(const Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
  UserIdentity user = authenticate(request);
  auto verdict = limiter_.admit(user.user_id, RateLimiter::Clock::now());
  if (!verdict.allowed) {
    static auto& limited = metrics::counter("osago_core_rate_limited_total",
                                            "Requests answered 429 by the limit that refused them: user, global");
    limited.Add({{"limit", verdict.global ? "global" : "user"}}).Increment();
    long long seconds = std::max<long long>(1, (verdict.retry_after.count() + 999) / 1000);
    response.set("Retry-After", std::to_string(seconds));
    throw http::HttpError(429, "RATE_LIMITED",
                          verdict.global ? "the service is busy; try again in " + std::to_string(seconds) + " s"
                                         : "too many requests from you; try again in " + std::to_string(seconds) + " s");
  }
  return user;
}

json CoreApi::savedProfile(const UserIdentity& user) {
  try {
    auto p = client_info_.profile(user.user_id);
    if (!p) throw http::HttpError(404, "NO_PROFILE", "you have no saved profile; enter the data yourself");
    return *p;
  } catch (const http::ClientError& e) {
    Poco::Logger::get("api").warning(std::string("client-info: ") + e.what());
    throw http::HttpError(503, "CLIENT_INFO_UNAVAILABLE",
                          "your saved data cannot be read right now; enter the data yourself or try again shortly");
  }
}

void CoreApi::profile(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
  UserIdentity user = admit(request, response);
  json p = savedProfile(user);
  p.erase("userId");
  http::sendJson(response, 200, p);
}

json CoreApi::fetchOwned(const std::string& request_id, const UserIdentity& user) {
  if (!isUuid(request_id)) throw http::HttpError(404, "NOT_FOUND", "no quote request " + request_id);
  auto view = callAggregator([&] { return aggregator_.getRequest(request_id); });
  // Someone else's request is answered exactly like a missing one: no data, no hint.
  if (!view || view->value("userId", "") != user.user_id)
    throw http::HttpError(404, "NOT_FOUND", "no quote request " + request_id);
  return *view;
}

void CoreApi::login(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
  json body = http::readJsonBody(request, 4096);
  std::string user = body.is_object() ? body.value("userId", "") : "";
  if (!validUserId(user))
    throw http::HttpError(400, "VALIDATION_FAILED", "userId is invalid",
                          json::array({{{"field", "userId"}, {"reason", "1-64 characters: letters, digits, '.', '_', '-'"}}}));
  std::string token = tokens_.issue(user);
  Poco::Net::HTTPCookie cookie(kCookie, token);
  cookie.setPath("/");
  cookie.setHttpOnly(true);
  cookie.setMaxAge(static_cast<int>(tokens_.ttl().count()));
  cookie.setSameSite(Poco::Net::HTTPCookie::SAME_SITE_STRICT);
  cookie.setSecure(overTls(request));
  if (overTls(request)) response.set("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
  response.addCookie(cookie);
  http::sendJson(response, 200, {{"token", token}, {"userId", user}, {"expiresInSeconds", tokens_.ttl().count()}});
}

void CoreApi::create(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
  UserIdentity user = admit(request, response);
  json body = http::readJsonBody(request);
  if (!body.is_object()) throw http::HttpError(400, "VALIDATION_FAILED", "the body must be a JSON object with the quote input");
  // Saved vehicles, drivers or the owner's own data are filled in from client-info;
  // a request that refers to none never waits for it.
  if (refersToProfile(body)) body = fillFromProfile(std::move(body), savedProfile(user));
  // The user comes from the token, never from the body; a retried submit may carry its own key.
  std::string key = request.get("Idempotency-Key", "");
  if (key.size() > 128) throw http::HttpError(400, "VALIDATION_FAILED", "Idempotency-Key is longer than 128 characters");
  body["userId"] = user.user_id;
  body["correlationId"] = newUuid();
  // The browser's trace (its traceparent), else one of our own: the quote's trace id from here to the partner.
  auto trace = TraceContext::continueOrStart(request.get("traceparent", ""));
  std::string tag = logTag(body["correlationId"], trace.trace_id);
  AggregatorAnswer answer = callAggregator([&] { return aggregator_.createRequest(body, key, trace.child().header()); });
  Poco::Logger::get("api").information(tag + "quote request of user " + user.user_id + ": osago-aggregator answered " +
                                       std::to_string(answer.status) +
                                       (answer.body.contains("osagoRequestId") && answer.body["osagoRequestId"].is_string()
                                            ? " (request " + answer.body["osagoRequestId"].get<std::string>() + ")"
                                            : std::string()));
  auto error = answer.body.find("error");
  if (answer.status == 503 && error != answer.body.end() && *error == "OVERLOADED") {
    // Shed by the aggregator: nothing was stored, the same Idempotency-Key may come again.
    long long seconds = 1;
    try {
      seconds = std::clamp(std::stoll(answer.retry_after), 1LL, 60LL);
    } catch (const std::exception&) {
      // absent or not a number of seconds: one second
    }
    response.set("Retry-After", std::to_string(seconds));
    throw http::HttpError(503, "OVERLOADED", "the quote service is at capacity; send the same request again in " +
                                                 std::to_string(seconds) + " s");
  }
  if (answer.status >= 500)
    throw http::HttpError(503, "AGGREGATOR_UNAVAILABLE", "the quote service failed; try again in a few seconds");
  http::sendJson(response, answer.status, answer.body);
}

void CoreApi::get(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response, const std::string& id) {
  UserIdentity user = admit(request, response);
  http::sendJson(response, 200, publicView(fetchOwned(id, user)));
}

void CoreApi::purchase(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response,
                       const std::string& id, const std::string& company_id) {
  UserIdentity user = admit(request, response);
  json body = http::readJsonBody(request, 16 * 1024);
  if (!body.is_object()) throw http::HttpError(400, "VALIDATION_FAILED", "the body must be a JSON object with the buyer");
  std::vector<quote::FieldError> errors;
  for (const auto& [key, value] : body.items())
    if (key != "buyer") errors.push_back({key, "is not a field of a purchase (buyer)"});
  auto buyer = quote::validateBuyer(body.contains("buyer") ? body["buyer"] : json());
  errors.insert(errors.end(), buyer.errors.begin(), buyer.errors.end());
  if (!errors.empty()) throw http::HttpError(400, "VALIDATION_FAILED", "the purchase has invalid fields", quote::toJson(errors));
  std::string key = request.get("Idempotency-Key", "");
  if (key.size() > 128) throw http::HttpError(400, "VALIDATION_FAILED", "Idempotency-Key is longer than 128 characters");
  // The aggregator buys only the owner's offer (someone else's request is its 404, as a missing
  // one is); a company id that could not be one goes no further than the aggregator would let it.
  if (!isUuid(id)) throw http::HttpError(404, "NOT_FOUND", "no quote request " + id.substr(0, 64));
  if (!isCompanyId(company_id))
    throw http::HttpError(409, "NO_OFFER", "company " + company_id.substr(0, 64) + " has no offer in this request");
  auto trace = TraceContext::continueOrStart(request.get("traceparent", ""));
  json forwarded{{"userId", user.user_id}, {"buyer", buyer.input}};
  AggregatorAnswer answer =
      callAggregator([&] { return aggregator_.purchase(id, company_id, forwarded, key, trace.child().header()); });
  Poco::Logger::get("api").information(logTag("", trace.trace_id) + "purchase of request " + id + " company " + company_id +
                                       " by user " + user.user_id + ": osago-aggregator answered " +
                                       std::to_string(answer.status));
  if (answer.status >= 500)
    throw http::HttpError(503, "AGGREGATOR_UNAVAILABLE", "the quote service failed; try again in a few seconds");
  http::sendJson(response, answer.status, answer.body);
}

StreamReactor::Ticket CoreApi::openStream(const std::string& id, const UserIdentity& user,
                                          StreamReactor::Protocol protocol, long long sent) {
  if (!isUuid(id)) throw http::HttpError(404, "NOT_FOUND", "no quote request " + id);
  try {
    return streams_.open(id, user.user_id, user.expires_at, protocol, sent);
  } catch (const StreamsFull& e) {
    throw http::HttpError(503, "TOO_MANY_STREAMS", std::string(e.what()) + "; try again shortly");
  } catch (const UserStreamsFull& e) {
    throw http::HttpError(429, "TOO_MANY_USER_STREAMS", std::string(e.what()) + "; close another tab's stream first");
  }
}

void CoreApi::stream(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response,
                     const std::string& id) {
  UserIdentity user = admit(request, response);
  // Opened before the state is read, so no event can fall between the two.
  // Resume after Last-Event-ID (sent by EventSource when it reconnects by itself) or
  // ?lastEventId=N (a page opening a new EventSource after what it has shown).
  std::string last = request.get("Last-Event-ID", "");
  if (last.empty()) last = http::queryParameter(request, "lastEventId");
  auto ticket = openStream(id, user, StreamReactor::Protocol::Sse, resumeSeq(last));
  json view = fetchOwned(id, user);
  response.setContentType("text/event-stream; charset=utf-8");
  response.set("Cache-Control", "no-cache");
  response.set("X-Accel-Buffering", "no");
  response.setKeepAlive(false);  // the body runs until the stream ends
  response.send().flush();
  streams_.attach(std::move(ticket), static_cast<Poco::Net::HTTPServerRequestImpl&>(request).detachSocket(), view);
}

void CoreApi::webSocket(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response,
                        const std::string& id) {
  checkOrigin(request);
  UserIdentity user = admit(request, response);
  // A malformed handshake is refused before anything is reserved or read.
  std::string key = request.get("Sec-WebSocket-Key", "");
  if (Poco::icompare(request.get("Upgrade", ""), "websocket") != 0 || key.empty())
    throw http::HttpError(400, "NOT_A_WEBSOCKET", "this address takes a WebSocket upgrade (Upgrade: websocket, Sec-WebSocket-Key)");
  if (request.get("Sec-WebSocket-Version", "") != "13") {
    response.set("Sec-WebSocket-Version", "13");
    throw http::HttpError(426, "WEBSOCKET_VERSION", "only WebSocket version 13 is supported");
  }
  auto ticket = openStream(id, user, StreamReactor::Protocol::WebSocket, resumeSeq(http::queryParameter(request, "fromSeq")));
  json view = fetchOwned(id, user);  // 404 as a plain HTTP answer, before the upgrade
  response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_SWITCHING_PROTOCOLS);
  response.set("Upgrade", "websocket");
  response.set("Connection", "Upgrade");
  response.set("Sec-WebSocket-Accept", wsAcceptKey(key));
  response.send().flush();
  streams_.attach(std::move(ticket), static_cast<Poco::Net::HTTPServerRequestImpl&>(request).detachSocket(), view);
}

}  // namespace osago::core
