#include "clients/aggregator_client.hpp"

namespace osago::core {
namespace {

nlohmann::json parseOrThrow(const http::ClientResponse& r, const std::string& what) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded())
    throw http::ClientError(false, what + ": osago-aggregator answered HTTP " + std::to_string(r.status) + " without JSON");
  return j;
}

}  // namespace

AggregatorClient::AggregatorClient(std::string base_url, std::chrono::milliseconds timeout, BreakerConfig breaker)
    : base_url_(std::move(base_url)), timeout_(timeout), endpoint_("osago-aggregator", breaker) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

AggregatorAnswer AggregatorClient::createRequest(const nlohmann::json& body, const std::string& idempotency_key) {
  http::ClientRequest req;
  req.method = "POST";
  if (!idempotency_key.empty()) req.headers.emplace_back("Idempotency-Key", idempotency_key);
  req.url = base_url_ + "/osago/requests";
  req.body = body.dump();
  req.timeout = timeout_;
  auto r = endpoint_.run([&] { return http::call(req); });
  return {r.status, parseOrThrow(r, "create request")};
}

std::optional<nlohmann::json> AggregatorClient::getRequest(const std::string& request_id) {
  http::ClientRequest req;
  req.url = base_url_ + "/osago/requests/" + request_id;
  req.timeout = timeout_;
  auto r = endpoint_.run([&] { return http::call(req); });
  if (r.status == 404) return std::nullopt;
  if (r.status != 200)
    throw http::ClientError(false, "get request: osago-aggregator answered HTTP " + std::to_string(r.status));
  return parseOrThrow(r, "get request");
}

}  // namespace osago::core
