#pragma once

#include "auth/token_service.hpp"
#include "clients/aggregator_client.hpp"
#include "clients/client_info_client.hpp"
#include "resilience/rate_limiter.hpp"
#include "config/core_config.hpp"
#include "streaming/stream_reactor.hpp"

#include <osago/common/http_server.hpp>

#include <functional>

namespace osago::core {

/// core-app's HTTP API for the browser: dev login, quote requests, the SSE
/// stream of a request's events, and the static web UI.
class CoreApi {
 public:
  CoreApi(const CoreConfig& config, TokenService& tokens, AggregatorClient& aggregator, ClientInfoClient& client_info,
          RateLimiter& limiter, StreamReactor& streams, std::function<bool()> ready);

  void registerRoutes(http::Router& router);

 private:
  UserIdentity authenticate(const Poco::Net::HTTPServerRequest& request) const;
  /// Whether the browser reached us over TLS (web.https, or the ingress says X-Forwarded-Proto: https).
  bool overTls(const Poco::Net::HTTPServerRequest& request) const;
  /// A page (index, scripts, styles) with HSTS when served over TLS.
  void page(const Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response, const std::string& file);
  /// Throws 403 unless a browser's Origin is one allowed to open streams (web.allowed_origins).
  void checkOrigin(const Poco::Net::HTTPServerRequest& request) const;
  /// authenticate(), then the user's and the global rate limit: 429 with Retry-After when over.
  UserIdentity admit(const Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);
  /// The user's saved profile from client-info; 503 quickly when it is slow, down or its breaker is open.
  nlohmann::json savedProfile(const UserIdentity& user);
  void profile(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);
  /// The request as the aggregator stores it, if `user` owns it; 404 otherwise.
  nlohmann::json fetchOwned(const std::string& request_id, const UserIdentity& user);

  void login(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);
  void create(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);
  void get(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response, const std::string& id);
  /// Buys one of the user's offers: the buyer's contact data checked here (else 400); the aggregator,
  /// told the user, refuses someone else's request (404) and everything else that is not for sale.
  void purchase(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response, const std::string& id,
                const std::string& company_id);
  /// Reserves a stream on the reactor for `id`: 404 for an id that cannot exist, 503 when the instance is full.
  StreamReactor::Ticket openStream(const std::string& id, const UserIdentity& user, StreamReactor::Protocol protocol,
                                   long long sent);
  /// Server-Sent Events; resumes after the `Last-Event-ID` header.
  void stream(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response, const std::string& id);
  /// The same messages as WebSocket text frames; resumes after `?fromSeq=N`.
  void webSocket(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response, const std::string& id);

  const CoreConfig& config_;
  TokenService& tokens_;
  AggregatorClient& aggregator_;
  ClientInfoClient& client_info_;
  RateLimiter& limiter_;
  StreamReactor& streams_;
  std::function<bool()> ready_;
};

}  // namespace osago::core
