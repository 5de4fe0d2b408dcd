#include "clients/aggregator_client.hpp"

#include <osago/common/outside_json.hpp>

namespace osago::core {
namespace {

RejectionLog& rejections() {
  static RejectionLog log("clients", "aggregator_answer");
  return log;
}

nlohmann::json parseOrThrow(const http::ClientResponse& r, const std::string& what) {
  auto j = parseOutside(r.body);
  if (!j.is_object()) {
    std::string message = what + ": osago-aggregator answered HTTP " + std::to_string(r.status) + " without a JSON object";
    rejections().reject(message);
    throw http::ClientError(false, message);
  }
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
  auto view = parseOrThrow(r, "get request");
  // What core-app reads of a request view must have its type before anything reads it.
  if (auto problem = OutsideJson(view).string("userId", true).integer("lastSeq", true).string("status", true)
                         .array("insuranceCompanies").problem()) {
    rejections().reject("get request: osago-aggregator's answer is malformed: " + *problem);
    throw http::ClientError(false, "get request: osago-aggregator's answer is malformed: " + *problem);
  }
  return view;
}

}  // namespace osago::core
