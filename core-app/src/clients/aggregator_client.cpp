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
    throw http::ClientError(http::ClientError::Kind::kFailed, message);
  }
  return j;
}

/// A 401 means the aggregator does not take our service token: the two services' keys differ
/// (docs/operations.md, rotation), never the user's fault, so it is no answer to pass on.
void throwIfCredentialRefused(const http::ClientResponse& r, const std::string& what) {
  if (r.status != 401) return;
  std::string message = what + ": osago-aggregator refused core-app's service token (HTTP 401): is "
                        "OSAGO_SERVICE_TOKEN_SECRET the same on both?";
  rejections().reject(message);
  throw http::ClientError(http::ClientError::Kind::kFailed, message);
}

}  // namespace

AggregatorClient::AggregatorClient(std::string base_url, std::string service_secret, std::chrono::milliseconds timeout,
                                   BreakerConfig breaker)
    : base_url_(std::move(base_url)),
      service_token_(std::move(service_secret), "core-app", "osago-aggregator"),
      timeout_(timeout),
      endpoint_("osago-aggregator", breaker) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

AggregatorAnswer AggregatorClient::createRequest(const nlohmann::json& body, const std::string& idempotency_key,
                                                 const std::string& traceparent) {
  return post("/osago/requests", body, idempotency_key, traceparent, "create request");
}

AggregatorAnswer AggregatorClient::purchase(const std::string& request_id, const std::string& company_id,
                                            const nlohmann::json& body, const std::string& idempotency_key,
                                            const std::string& traceparent) {
  return post("/osago/requests/" + request_id + "/companies/" + company_id + "/purchase", body, idempotency_key,
              traceparent, "purchase");
}

AggregatorAnswer AggregatorClient::post(const std::string& path, const nlohmann::json& body,
                                        const std::string& idempotency_key, const std::string& traceparent,
                                        const std::string& what) {
  http::ClientRequest req;
  req.method = "POST";
  if (!idempotency_key.empty()) req.headers.emplace_back("Idempotency-Key", idempotency_key);
  if (!traceparent.empty()) req.headers.emplace_back("traceparent", traceparent);
  req.url = base_url_ + path;
  req.headers.emplace_back("Authorization", service_token_.authorization());
  req.body = body.dump();
  req.timeout = timeout_;
  auto r = endpoint_.run([&] {
    auto answer = http::call(req);
    throwIfCredentialRefused(answer, what);
    return answer;
  });
  return {r.status, parseOrThrow(r, what), r.retry_after};
}

std::optional<nlohmann::json> AggregatorClient::getRequest(const std::string& request_id) {
  http::ClientRequest req;
  req.url = base_url_ + "/osago/requests/" + request_id;
  req.headers.emplace_back("Authorization", service_token_.authorization());
  req.timeout = timeout_;
  auto r = endpoint_.run([&] {
    auto answer = http::call(req);
    throwIfCredentialRefused(answer, "get request");
    return answer;
  });
  if (r.status == 404) return std::nullopt;
  if (r.status != 200)
    throw http::ClientError(http::ClientError::Kind::kFailed, "get request: osago-aggregator answered HTTP " + std::to_string(r.status));
  auto view = parseOrThrow(r, "get request");
  // What core-app reads of a request view must have its type before anything reads it.
  if (auto problem = OutsideJson(view).string("userId", true).integer("lastSeq", true).string("status", true)
                         .array("insuranceCompanies").problem()) {
    rejections().reject("get request: osago-aggregator's answer is malformed: " + *problem);
    throw http::ClientError(http::ClientError::Kind::kFailed, "get request: osago-aggregator's answer is malformed: " + *problem);
  }
  return view;
}

}  // namespace osago::core
