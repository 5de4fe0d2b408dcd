#include "api/quote_api.hpp"

#include <osago/common/ids.hpp>
#include <osago/common/trace_context.hpp>
#include <osago/common/metrics.hpp>
#include <osago/common/quote_input.hpp>

#include <Poco/Logger.h>

#include <algorithm>

namespace osago::host {
namespace {

prometheus::Counter& requestsCounted(const std::string& result) {
  static auto& f = metrics::counter("osago_quote_requests_total",
                                    "POST /osago/requests by result: created, replayed, key_reused, invalid, shed (refused at capacity: 503)");
  return f.Add({{"result", result}});
}


std::optional<std::string> idField(const nlohmann::json& body, const char* key, std::vector<quote::FieldError>& errors) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) {
    errors.push_back({key, "is required"});
  } else if (!it->is_string() || it->get<std::string>().empty() || it->get<std::string>().size() > 128) {
    errors.push_back({key, "must be a non-empty string of at most 128 characters"});
  } else {
    return it->get<std::string>();
  }
  return std::nullopt;
}

}  // namespace

nlohmann::json toJson(const QuoteRequestView& v) {
  nlohmann::json companies = nlohmann::json::array();
  for (const auto& c : v.companies) {
    nlohmann::json j{{"companyId", c.company_id}, {"companyName", c.company_name}, {"status", c.status},
                     {"updatedAt", c.updated_at}};
    if (!c.offer.is_null()) j["offer"] = c.offer;
    if (!c.error.is_null()) j["error"] = c.error;
    if (c.purchase) j["purchase"] = purchaseJson(*c.purchase);
    companies.push_back(std::move(j));
  }
  return {{"osagoRequestId", v.id},  {"userId", v.user_id},     {"correlationId", v.correlation_id}, {"traceId", v.trace_id.empty() ? nlohmann::json() : nlohmann::json(v.trace_id)},
          {"status", v.status},      {"lastSeq", v.last_seq},   {"createdAt", v.created_at},
          {"deadlineAt", v.deadline_at}, {"insuranceCompanies", std::move(companies)}};
}

QuoteApi::QuoteApi(QuoteStore& store, const PluginRegistry& plugins, const auth::ServiceTokenVerifier& services,
                   AdmissionControl& admission, std::chrono::seconds deadline, std::function<CivilDate()> today,
                   std::function<void()> on_created, std::chrono::seconds purchase_deadline)
    : store_(store),
      plugins_(plugins),
      services_(services),
      admission_(admission),
      deadline_(deadline),
      today_(std::move(today)),
      on_created_(std::move(on_created)),
      purchase_deadline_(purchase_deadline) {}

void QuoteApi::authenticate(const Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
  std::string token = http::bearerToken(request);
  std::string reason = "no service token (Authorization: Bearer …)";
  if (!token.empty()) {
    try {
      services_.verify(token);
      return;
    } catch (const Error& e) {
      reason = e.what();
    }
  }
  refused_.reject("refused " + request.getMethod() + " " + request.getURI().substr(0, 100) + " from " +
                  request.clientAddress().host().toString() + ": " + reason);
  response.set("WWW-Authenticate", "Bearer realm=\"osago-aggregator\"");
  throw http::HttpError(401, "UNAUTHORIZED", "a valid service token is required: " + reason);
}

namespace {

/// Runs a handler; a database that cannot be reached becomes a 503 the caller may retry.
template <typename Fn>
void withStorage(Fn&& fn) {
  try {
    fn();
  } catch (const pg::Error& e) {
    if (!e.unavailable()) throw;
    Poco::Logger::get("api").warning(std::string("storage unavailable: ") + e.what());
    throw http::HttpError(503, "STORAGE_UNAVAILABLE", "the quote storage is not reachable; try again in a few seconds");
  }
}

}  // namespace

void QuoteApi::registerRoutes(http::Router& router) {
  router.add("POST", "/osago/requests", [this](auto& req, auto& resp, const auto&) {
    authenticate(req, resp);
    withStorage([&] { create(req, resp); });
  });
  router.add("GET", "/osago/requests/{id}", [this](auto& req, auto& resp, const auto& p) {
    authenticate(req, resp);
    withStorage([&] { get(resp, p.at("id")); });
  });
  router.add("POST", "/osago/requests/{id}/companies/{companyId}/purchase", [this](auto& req, auto& resp, const auto& p) {
    authenticate(req, resp);
    withStorage([&] { purchase(req, resp, p.at("id"), p.at("companyId")); });
  });
}

void QuoteApi::create(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
  nlohmann::json body = http::readJsonBody(request);
  if (!body.is_object()) throw http::HttpError(400, "VALIDATION_FAILED", "the body must be a JSON object");
  std::vector<quote::FieldError> errors;
  auto correlation_id = idField(body, "correlationId", errors);
  auto user_id = idField(body, "userId", errors);
  nlohmann::json quote_body = body;
  quote_body.erase("correlationId");
  quote_body.erase("userId");
  auto validated = quote::validateQuoteInput(quote_body, today_());
  errors.insert(errors.end(), validated.errors.begin(), validated.errors.end());
  if (!errors.empty()) {
    requestsCounted("invalid").Increment();
    throw http::HttpError(400, "VALIDATION_FAILED", "the quote request has invalid fields", quote::toJson(errors));
  }

  std::string idempotency_key = request.get("Idempotency-Key", "");
  if (idempotency_key.size() > 128)
    throw http::HttpError(400, "VALIDATION_FAILED", "Idempotency-Key is longer than 128 characters");

  NewQuoteRequest r;
  r.user_id = *user_id;
  r.correlation_id = *correlation_id;
  // core-app's traceparent (the browser's trace), else a trace of our own.
  r.trace_id = TraceContext::continueOrStart(request.get("traceparent", "")).trace_id;
  r.idempotency_key = idempotency_key.empty() ? *correlation_id : idempotency_key;
  r.input = validated.input;
  r.deadline = deadline_;
  // Every known company is listed; one that cannot be asked says why instead of vanishing.
  for (const auto& route : plugins_.companies()) {
    NewCompany c;
    c.id = route.company.id;
    c.name = route.company.name;
    if (!route.enabled) {
      c.status = CompanyStatus::kFailed;
      c.error = companyError("COMPANY_DISABLED", route.company.name + " is switched off by an operator");
    } else if (!route.adapter) {
      c.status = CompanyStatus::kFailed;
      c.error = companyError("PLUGIN_UNAVAILABLE", route.unavailable);
    }
    r.companies.push_back(std::move(c));
  }
  if (r.companies.empty())
    throw http::HttpError(503, "NO_COMPANIES", "no insurance company is installed; install a plugin with its manifest");

  std::optional<CreateResult> stored;
  if (auto refusal = admission_.refusal(std::chrono::steady_clock::now())) {
    // A retry of a request already taken is answered as always; only new work is refused.
    stored = store_.findCreated(r);
    if (!stored) {
      requestsCounted("shed").Increment();
      response.set("Retry-After", std::to_string(refusal->retry_after.count()));
      throw http::HttpError(503, "OVERLOADED", refusal->message);
    }
  }
  CreateResult created = stored ? *stored : store_.create(r);
  requestsCounted(created.kind == CreateResult::Kind::Created    ? "created"
                  : created.kind == CreateResult::Kind::Replayed ? "replayed"
                                                                 : "key_reused")
      .Increment();
  if (created.kind == CreateResult::Kind::KeyReused)
    throw http::HttpError(422, "IDEMPOTENCY_KEY_REUSED",
                          "the idempotency key " + r.idempotency_key + " (Idempotency-Key, or else correlationId) was "
                          "already used with a different quote input");
  if (created.kind == CreateResult::Kind::Created) {
    Poco::Logger::get("api").information(logTag(r.correlation_id, r.trace_id) + "created request " + created.request_id + " for " +
                                         std::to_string(r.companies.size()) + " companies");
    on_created_();
  }
  nlohmann::json answer{{"osagoRequestId", created.request_id}, {"insuranceCompanies", nlohmann::json::array()}};
  auto add = [&](const std::string& id, const std::string& name, CompanyStatus status) {
    answer["insuranceCompanies"].push_back({{"companyId", id}, {"companyName", name}, {"status", status}});
  };
  if (created.kind == CreateResult::Kind::Created) {
    // Just stored: the answer is what was written, no second read.
    for (const auto& c : r.companies) add(c.id, c.name, c.status);
  } else {
    // A replay answers with the first request's current statuses.
    auto view = store_.find(created.request_id);
    if (!view) throw Error("request " + created.request_id + " vanished right after it was stored");
    for (const auto& c : view->companies) add(c.company_id, c.company_name, c.status);
  }
  http::sendJson(response, created.kind == CreateResult::Kind::Created ? 201 : 200, answer);
}

namespace {

prometheus::Counter& purchasesCounted(const std::string& result) {
  static auto& f = metrics::counter("osago_purchase_requests_total",
                                    "POST /osago/requests/{id}/companies/{companyId}/purchase by result: created, replayed, "
                                    "or the refusal in lower case (no_offer, offer_expired, purchase_exists, ...)");
  return f.Add({{"result", result}});
}

}  // namespace

void QuoteApi::purchase(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response,
                        const std::string& id, const std::string& company_id) {
  nlohmann::json body = http::readJsonBody(request);
  if (!body.is_object()) throw http::HttpError(400, "VALIDATION_FAILED", "the body must be a JSON object");
  std::vector<quote::FieldError> errors;
  auto user_id = idField(body, "userId", errors);
  for (const auto& [key, value] : body.items())
    if (key != "userId" && key != "buyer") errors.push_back({key, "is not a field of a purchase (userId, buyer)"});
  auto buyer = quote::validateBuyer(body.contains("buyer") ? body["buyer"] : nlohmann::json());
  errors.insert(errors.end(), buyer.errors.begin(), buyer.errors.end());
  if (!errors.empty()) {
    purchasesCounted("invalid").Increment();
    throw http::HttpError(400, "VALIDATION_FAILED", "the purchase has invalid fields", quote::toJson(errors));
  }
  std::string idempotency_key = request.get("Idempotency-Key", "");
  if (idempotency_key.size() > 128)
    throw http::HttpError(400, "VALIDATION_FAILED", "Idempotency-Key is longer than 128 characters");
  if (!isUuid(id)) throw http::HttpError(404, "NOT_FOUND", "no quote request " + id.substr(0, 64));
  if (!isCompanyId(company_id)) throw http::HttpError(409, "NO_OFFER", "company " + company_id.substr(0, 64) + " has no offer in this request");

  NewPurchase n;
  n.request_id = id;
  n.user_id = *user_id;
  n.company_id = company_id;
  // Without a key, a repeat of the same purchase of the same offer is a replay.
  n.idempotency_key = idempotency_key.empty() ? "offer:" + company_id : idempotency_key;
  n.buyer = buyer.input;
  n.deadline = purchase_deadline_;
  auto created = store_.createPurchase(n);
  using Kind = PurchaseCreated::Kind;
  auto refusal = [&](const char* label, int status, const char* code, const std::string& message) {
    purchasesCounted(label).Increment();
    return http::HttpError(status, code, message);
  };
  switch (created.kind) {
    case Kind::Created:
    case Kind::Replayed: break;
    case Kind::NoRequest: throw refusal("not_found", 404, "NOT_FOUND", "no quote request " + id);
    case Kind::KeyReused:
      throw refusal("key_reused", 422, "IDEMPOTENCY_KEY_REUSED",
             "the idempotency key " + n.idempotency_key + " was already used for another purchase or another buyer");
    case Kind::NoOffer: throw refusal("no_offer", 409, "NO_OFFER", "company " + company_id + " has no offer in this request");
    case Kind::NotPurchasable:
      throw refusal("not_purchasable", 409, "NOT_PURCHASABLE",
             "this insurer's offers cannot be bought here (its plugin predates purchases); buy on the insurer's own site");
    case Kind::Expired:
      throw refusal("offer_expired", 409, "OFFER_EXPIRED", "the offer is no longer valid; ask for new prices");
    case Kind::Superseded:
      throw refusal("offer_superseded", 409, "OFFER_SUPERSEDED",
             "a newer quote request for the same vehicle replaced this offer; buy from the newer one");
    case Kind::Taken:
      throw refusal("purchase_exists", 409, "PURCHASE_EXISTS",
             created.company_id == company_id
                 ? "this offer is already being bought (purchase " + created.purchase_id + ")"
                 : "another offer of this request is being bought or was bought (company " + created.company_id + ")");
  }
  purchasesCounted(created.kind == Kind::Created ? "created" : "replayed").Increment();
  if (created.kind == Kind::Created) {
    Poco::Logger::get("api").information("request " + id + " company " + company_id + ": purchase " + created.purchase_id +
                                         " created");
    on_created_();  // the workers take it at once
  }
  auto answer = purchaseJson(*created.purchase);
  answer["osagoRequestId"] = id;
  answer["companyId"] = company_id;
  http::sendJson(response, created.kind == Kind::Created ? 201 : 200, answer);
}

void QuoteApi::get(Poco::Net::HTTPServerResponse& response, const std::string& id) {
  if (!isUuid(id)) throw http::HttpError(404, "NOT_FOUND", "no quote request " + id);
  auto view = store_.find(id);
  if (!view) throw http::HttpError(404, "NOT_FOUND", "no quote request " + id);
  http::sendJson(response, 200, toJson(*view));
}

}  // namespace osago::host
