#pragma once

#include "auth/token_service.hpp"
#include "clients/aggregator_client.hpp"
#include "clients/client_info_client.hpp"
#include "resilience/rate_limiter.hpp"
#include "config/core_config.hpp"
#include "streaming/event_hub.hpp"

#include <osago/common/http_server.hpp>

#include <functional>

namespace osago::core {

class StreamWriter;

/// core-app's HTTP API for the browser: dev login, quote requests, the SSE
/// stream of a request's events, and the static web UI.
class CoreApi {
 public:
  CoreApi(const CoreConfig& config, TokenService& tokens, AggregatorClient& aggregator, ClientInfoClient& client_info,
          RateLimiter& limiter, EventHub& hub, std::function<bool()> ready);

  void registerRoutes(http::Router& router);

 private:
  UserIdentity authenticate(const Poco::Net::HTTPServerRequest& request) const;
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
  /// Server-Sent Events; resumes after the `Last-Event-ID` header.
  void stream(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response, const std::string& id);
  /// The same messages as WebSocket text frames; resumes after `?fromSeq=N`.
  void webSocket(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response, const std::string& id);
  /// Sends what the client missed after `sent` (a snapshot from the stored
  /// state), then the live events in seq order without gaps or duplicates,
  /// until the request is final, the token expires or the client leaves.
  void relay(StreamWriter& out, const std::shared_ptr<Subscription>& sub, nlohmann::json view, const std::string& id,
             const UserIdentity& user, long long sent);
  void staticFile(Poco::Net::HTTPServerResponse& response, const std::string& name);

  const CoreConfig& config_;
  TokenService& tokens_;
  AggregatorClient& aggregator_;
  ClientInfoClient& client_info_;
  RateLimiter& limiter_;
  EventHub& hub_;
  std::function<bool()> ready_;
};

/// The request as the browser sees it: the aggregator's view without internal fields.
nlohmann::json publicView(const nlohmann::json& view);

}  // namespace osago::core
