#include "api/core_api.hpp"

#include <osago/common/ids.hpp>

#include <Poco/Logger.h>
#include <Poco/Net/HTTPCookie.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/Net/WebSocket.h>
#include <Poco/URI.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

namespace osago::core {
namespace {

using nlohmann::json;
using Clock = std::chrono::system_clock;

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

void writeEvent(std::ostream& out, const std::string& type, long long id, const json& data) {
  out << "id: " << id << "\nevent: " << type << "\ndata: " << data.dump() << "\n\n";
  out.flush();
}

}  // namespace

json publicView(const json& view) {
  json v = view;
  v.erase("userId");
  return v;
}

CoreApi::CoreApi(const CoreConfig& config, TokenService& tokens, AggregatorClient& aggregator,
                 ClientInfoClient& client_info, RateLimiter& limiter, EventHub& hub, std::function<bool()> ready)
    : config_(config), tokens_(tokens), aggregator_(aggregator), client_info_(client_info), limiter_(limiter), hub_(hub),
      ready_(std::move(ready)) {}

void CoreApi::registerRoutes(http::Router& router) {
  if (config_.dev_login_enabled)
    router.add("POST", "/api/dev/login", [this](auto& req, auto& resp, const auto&) { login(req, resp); });
  router.add("GET", "/api/profile", [this](auto& req, auto& resp, const auto&) { profile(req, resp); });
  router.add("POST", "/api/osago/requests", [this](auto& req, auto& resp, const auto&) { create(req, resp); });
  router.add("GET", "/api/osago/requests/{id}", [this](auto& req, auto& resp, const auto& p) { get(req, resp, p.at("id")); });
  router.add("GET", "/api/osago/requests/{id}/stream",
             [this](auto& req, auto& resp, const auto& p) { stream(req, resp, p.at("id")); });
  router.add("GET", "/api/osago/requests/{id}/ws",
             [this](auto& req, auto& resp, const auto& p) { webSocket(req, resp, p.at("id")); });
  router.add("GET", "/", [this](auto&, auto& resp, const auto&) { staticFile(resp, "index.html"); });
  router.add("GET", "/static/{file}", [this](auto&, auto& resp, const auto& p) { staticFile(resp, p.at("file")); });
  router.add("GET", "/health/live", [](auto&, auto& resp, const auto&) { http::sendJson(resp, 200, {{"status", "UP"}}); });
  router.add("GET", "/health/ready", [this](auto&, auto& resp, const auto&) {
    bool ok = ready_();
    http::sendJson(resp, ok ? 200 : 503,
                   {{"status", ok ? "UP" : "DOWN"},
                    {"kafkaConsumer", ok ? "assigned" : "waiting"},
                    {"aggregatorBreaker", aggregator_.breakerState()},
                    {"clientInfoBreaker", client_info_.breakerState()}});
  });
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
  AggregatorAnswer answer = callAggregator([&] { return aggregator_.createRequest(body, key); });
  if (answer.status >= 500)
    throw http::HttpError(503, "AGGREGATOR_UNAVAILABLE", "the quote service failed; try again in a few seconds");
  http::sendJson(response, answer.status, answer.body);
}

void CoreApi::get(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response, const std::string& id) {
  UserIdentity user = admit(request, response);
  http::sendJson(response, 200, publicView(fetchOwned(id, user)));
}

/// Where a stream's messages go: Server-Sent Events or WebSocket text frames.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  virtual void event(const std::string& type, long long seq, const json& data) = 0;
  virtual void keepAlive(const std::string& note) = 0;
  /// False once the client went away.
  virtual bool open() = 0;
};

namespace {

class SseWriter : public StreamWriter {
 public:
  explicit SseWriter(std::ostream& out) : out_(out) { out_ << "retry: 2000\n\n"; }
  void event(const std::string& type, long long seq, const json& data) override { writeEvent(out_, type, seq, data); }
  void keepAlive(const std::string& note) override {
    out_ << ": " << note << "\n\n";
    out_.flush();
  }
  bool open() override { return out_.good(); }

 private:
  std::ostream& out_;
};

/// One JSON text frame per message: {"type", "seq", "data"}. Pings and a
/// close from the client are answered; anything else it sends is ignored.
class WebSocketWriter : public StreamWriter {
 public:
  explicit WebSocketWriter(Poco::Net::WebSocket& ws) : ws_(ws) {}
  void event(const std::string& type, long long seq, const json& data) override {
    send(json{{"type", type}, {"seq", seq}, {"data", data}}.dump(), Poco::Net::WebSocket::FRAME_TEXT);
  }
  void keepAlive(const std::string&) override { send("", Poco::Net::WebSocket::FRAME_OP_PING); }
  bool open() override {
    try {
      while (open_ && ws_.poll(Poco::Timespan(0), Poco::Net::Socket::SELECT_READ)) {
        char buf[1024];
        int flags = 0;
        int n = ws_.receiveFrame(buf, sizeof buf, flags);
        int op = flags & Poco::Net::WebSocket::FRAME_OP_BITMASK;
        if (op == Poco::Net::WebSocket::FRAME_OP_CLOSE || (n == 0 && flags == 0)) {  // a close, or the connection ended
          open_ = false;
        } else if (op == Poco::Net::WebSocket::FRAME_OP_PING) {
          ws_.sendFrame(buf, n, static_cast<int>(Poco::Net::WebSocket::FRAME_FLAG_FIN) |
                                    static_cast<int>(Poco::Net::WebSocket::FRAME_OP_PONG));
        }
      }
    } catch (const Poco::Exception&) {
      open_ = false;
    }
    return open_;
  }
  void close() {
    try {
      ws_.shutdown();
    } catch (const Poco::Exception&) {
    }
  }

 private:
  void send(const std::string& text, int flags) {
    try {
      ws_.sendFrame(text.data(), static_cast<int>(text.size()), flags | Poco::Net::WebSocket::FRAME_FLAG_FIN);
    } catch (const Poco::Exception&) {
      open_ = false;
    }
  }
  Poco::Net::WebSocket& ws_;
  bool open_ = true;
};

long long parseSeq(const std::string& text) {
  if (text.empty()) return -1;
  try {
    return std::stoll(text);
  } catch (const std::exception&) {
    return -1;  // unreadable: start over with a snapshot
  }
}

}  // namespace

void CoreApi::stream(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response,
                     const std::string& id) {
  UserIdentity user = admit(request, response);
  if (!isUuid(id)) throw http::HttpError(404, "NOT_FOUND", "no quote request " + id);
  auto sub = hub_.subscribe(id);  // before reading the state, so no event can fall between the two
  json view = fetchOwned(id, user);
  response.setChunkedTransferEncoding(true);
  response.setContentType("text/event-stream; charset=utf-8");
  response.set("Cache-Control", "no-cache");
  response.set("X-Accel-Buffering", "no");
  SseWriter writer(response.send());
  relay(writer, sub, std::move(view), id, user, parseSeq(request.get("Last-Event-ID", "")));
}

void CoreApi::webSocket(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response,
                        const std::string& id) {
  UserIdentity user = admit(request, response);
  if (!isUuid(id)) throw http::HttpError(404, "NOT_FOUND", "no quote request " + id);
  auto sub = hub_.subscribe(id);
  json view = fetchOwned(id, user);  // 404 as a plain HTTP answer, before the upgrade
  std::string from_seq;
  for (const auto& [key, value] : Poco::URI(request.getURI()).getQueryParameters())
    if (key == "fromSeq") from_seq = value;
  long long from = parseSeq(from_seq);
  Poco::Net::WebSocket ws(request, response);
  WebSocketWriter writer(ws);
  relay(writer, sub, std::move(view), id, user, from);
  writer.close();
}

void CoreApi::relay(StreamWriter& out, const std::shared_ptr<Subscription>& sub, json view, const std::string& id,
                    const UserIdentity& user, long long sent) {
  struct Unsubscribe {
    EventHub& hub;
    std::shared_ptr<Subscription> sub;
    ~Unsubscribe() { hub.unsubscribe(sub); }
  } guard{hub_, sub};
  auto send_snapshot_if_newer = [&](const json& v) {
    long long seq = v.value("lastSeq", 0LL);
    if (seq > sent) {
      out.event("snapshot", seq, publicView(v));
      sent = seq;
    }
  };
  auto finished = [](const json& v) { return v.value("status", "") == "COMPLETED"; };
  auto end = [&](const std::string& reason) { out.event("end", std::max(sent, 0LL), {{"reason", reason}}); };

  send_snapshot_if_newer(view);
  if (finished(view)) return end("COMPLETED");

  std::map<long long, json> held;  // events that arrived ahead of a missing one
  auto last_activity = Clock::now();
  auto held_since = Clock::time_point::max();
  while (out.open()) {
    if (Clock::now() >= user.expires_at) return end("TOKEN_EXPIRED");
    std::vector<json> events;
    sub->waitPop(events, std::chrono::seconds(1));
    for (auto& e : events)
      if (long long seq = e.value("seq", 0LL); seq > sent) held.emplace(seq, std::move(e));
    while (!held.empty() && held.begin()->first == sent + 1) {
      json e = std::move(held.begin()->second);
      held.erase(held.begin());
      out.event("company", ++sent, e);
      last_activity = Clock::now();
      if (e.value("requestStatus", "") == "COMPLETED") return end("COMPLETED");
    }
    held_since = held.empty() ? Clock::time_point::max() : std::min(held_since, Clock::now());
    // A gap that does not fill, or a long silence: reconcile with the stored state.
    bool gap = Clock::now() - held_since > std::chrono::seconds(2);
    bool silent = Clock::now() - last_activity > config_.stream_heartbeat;
    if (gap || silent) {
      json fresh;
      try {
        fresh = fetchOwned(id, user);
      } catch (const http::HttpError&) {
        out.keepAlive("aggregator unavailable");
        last_activity = Clock::now();
        continue;
      }
      send_snapshot_if_newer(fresh);
      held.erase(held.begin(), held.upper_bound(sent));
      held_since = Clock::time_point::max();
      last_activity = Clock::now();
      if (finished(fresh)) return end("COMPLETED");
      out.keepAlive("keep-alive");
    }
  }
}

void CoreApi::staticFile(Poco::Net::HTTPServerResponse& response, const std::string& name) {
  static const std::map<std::string, std::string> kTypes = {
      {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"}, {".png", "image/png"}};
  auto dot = name.rfind('.');
  auto type = dot == std::string::npos ? kTypes.end() : kTypes.find(name.substr(dot));
  if (type == kTypes.end() || name.find('/') != std::string::npos || name.find("..") != std::string::npos)
    throw http::HttpError(404, "NOT_FOUND", "no such file");
  std::ifstream file(config_.web_root + "/" + name, std::ios::binary);
  if (!file) throw http::HttpError(404, "NOT_FOUND", "no such file");
  std::ostringstream content;
  content << file.rdbuf();
  std::string text = content.str();
  response.setContentType(type->second);
  response.set("Cache-Control", "no-cache");
  response.setContentLength(static_cast<std::streamsize>(text.size()));
  response.send() << text;
}

}  // namespace osago::core
