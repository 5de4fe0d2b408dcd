// The potok dialect (docs/insurer-simulator.md): asynchronous operations, as
// some insurers' public APIs work. The caller says how long it is willing to
// wait with a `desired-timeout` header (seconds); what is done by then is
// answered at once (200), anything else with `202 {"draftId", "href"}`, the
// operation to poll (`GET /sales/v2/operations?oper_id=…`, which also waits up
// to `desired-timeout`). A calculation and a purchase are both operations;
// a purchase's later states are read from `GET /sales/v2/policies/{id}`.
#include "simulator.hpp"

#include <osago/common/civil_date.hpp>
#include <osago/common/ids.hpp>
#include <osago/plugin_sdk/plugin.hpp>

#include <thread>

namespace osago::simulator {

using nlohmann::json;

namespace {

/// The longest a caller may ask to be held.
constexpr int kMaxDesiredSeconds = 30;

std::string isoFromUnixMs(long long ms) { return isoUtc(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms))); }

}  // namespace

void InsurerSimulator::registerPotokRoutes(http::Router& router) {
  router.add("POST", "/{insurer}/sales/v2/calculations",
             [this](auto& req, auto& resp, const http::PathParams& p) { potokCalculate(req, resp, p.at("insurer")); });
  router.add("GET", "/{insurer}/sales/v2/operations",
             [this](auto& req, auto& resp, const http::PathParams& p) { potokOperation(req, resp, p.at("insurer")); });
  router.add("POST", "/{insurer}/sales/v2/policies",
             [this](auto& req, auto& resp, const http::PathParams& p) { potokBuy(req, resp, p.at("insurer")); });
  router.add("GET", "/{insurer}/sales/v2/policies/{id}",
             [this](auto& req, auto& resp, const http::PathParams& p) { potokPolicy(req, resp, p.at("insurer"), p.at("id")); });
}

bool InsurerSimulator::holdUntil(std::unique_lock<std::mutex>& lock, Clock::time_point ready,
                                 const Poco::Net::HTTPServerRequest& req) {
  int desired = 0;
  try {
    desired = std::clamp(std::stoi(req.get("desired-timeout", "0")), 0, kMaxDesiredSeconds);
  } catch (const std::exception&) {
    throw http::HttpError(400, "BAD_DESIRED_TIMEOUT", "desired-timeout must be whole seconds");
  }
  auto until = std::min(ready, Clock::now() + std::chrono::seconds(desired));
  lock.unlock();
  while (Clock::now() < until && !stopping_) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  lock.lock();
  return Clock::now() >= ready;
}

json InsurerSimulator::potokResult(const Application& app) const {
  const json& o = app.outcome;
  if (o.value("kind", "") != "offer")
    return {{"outcome", "REFUSED"}, {"refusal", {{"code", o.value("reason", "REFUSED")}, {"text", o.value("message", "")}}}};
  return {{"outcome", "QUOTED"}, {"premiumKopecks", o["premiumKopecks"]}, {"tariff", o["factors"]}};
}

json InsurerSimulator::potokPolicyState(const std::string& id, const Purchase& p) const {
  std::string state = stateOf(p, Clock::now());
  json j{{"policyId", id}};
  if (state == "checking") {
    j["status"] = "CHECKING";
  } else if (state == "payment") {
    j["status"] = "AWAITING_PAYMENT";
    j["payment"] = {{"href", public_url_ + "/pay/" + id}, {"validTill", isoFromUnixMs(p.payment_expires_unix_ms)}};
  } else if (state == "paid") {
    j["status"] = "PAID";
  } else if (state == "issued") {
    auto space = p.policy_number.find(' ');
    j["status"] = "ISSUED";
    j["policy"] = {{"series", p.policy_number.substr(0, space)}, {"number", p.policy_number.substr(space + 1)},
                   {"pdfHref", public_url_ + "/documents/" + id + "/policy"}};
  } else {
    bool expired = state == "expired";
    j["status"] = "REFUSED";
    j["refusal"] = {{"code", expired ? "PAYMENT_EXPIRED" : p.decline_reason},
                    {"text", expired ? "payment time is over" : p.decline_message}};
  }
  return j;
}

void InsurerSimulator::potokCalculate(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp,
                                      const std::string& insurer_id) {
  json body = http::readJsonBody(req, 64 * 1024);
  std::unique_lock lock(mutex_);
  Insurer* entered = enter(lock, req, resp, insurer_id, nullptr);
  if (!entered) return;
  std::string id = newApplication(*entered, body, req);
  if (holdUntil(lock, applications_.at(id).ready_at, req)) {
    auto it = applications_.find(id);
    if (it != applications_.end())
      return http::sendJson(resp, 200, {{"calculationId", id}, {"status", "DONE"}, {"result", potokResult(it->second)}});
  }
  http::sendJson(resp, 202, {{"draftId", id}, {"href", "/sales/v2/operations?oper_id=" + id}});
}

void InsurerSimulator::potokOperation(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp,
                                      const std::string& insurer_id) {
  std::string oper_id = http::queryParameter(req, "oper_id");
  std::unique_lock lock(mutex_);
  Insurer* entered = enter(lock, req, resp, insurer_id, &Stats::polls);
  if (!entered) return;
  std::string insurer = entered->profile.id;
  // An operation is a calculation or a purchase's check.
  if (auto app = applications_.find(oper_id); app != applications_.end() && app->second.insurer_id == insurer) {
    bool done = holdUntil(lock, app->second.ready_at, req);
    app = applications_.find(oper_id);  // the lock was let go
    if (app == applications_.end()) throw http::HttpError(404, "UNKNOWN_OPERATION", "no operation " + oper_id.substr(0, 64));
    if (!done) {
      resp.set("Retry-After", "1");
      return http::sendJson(resp, 200, {{"operId", oper_id}, {"status", "RUNNING"}});
    }
    return http::sendJson(resp, 200, {{"operId", oper_id}, {"status", "DONE"}, {"calculationId", oper_id},
                                      {"result", potokResult(app->second)}});
  }
  if (auto p = purchases_.find(oper_id); p != purchases_.end() && p->second.insurer_id == insurer) {
    bool done = holdUntil(lock, p->second.checked_at, req);
    p = purchases_.find(oper_id);
    if (p == purchases_.end()) throw http::HttpError(404, "UNKNOWN_OPERATION", "no operation " + oper_id.substr(0, 64));
    if (!done) {
      resp.set("Retry-After", "1");
      return http::sendJson(resp, 200, {{"operId", oper_id}, {"status", "RUNNING"}});
    }
    return http::sendJson(resp, 200, {{"operId", oper_id}, {"status", "DONE"}, {"result", potokPolicyState(oper_id, p->second)}});
  }
  throw http::HttpError(404, "UNKNOWN_OPERATION", "no operation " + oper_id.substr(0, 64));
}

void InsurerSimulator::potokBuy(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp,
                                const std::string& insurer_id) {
  json body = http::readJsonBody(req, 16 * 1024);
  std::unique_lock lock(mutex_);
  Insurer* entered = enter(lock, req, resp, insurer_id, nullptr);
  if (!entered) return;
  auto text = [&](const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  json contacts = body.is_object() && body.contains("contacts") && body["contacts"].is_object() ? body["contacts"] : json::object();
  std::string calculation = body.is_object() ? text(body, "calculationId") : "";
  std::string key = body.is_object() ? text(body, "clientRequestId") : "";
  if (calculation.empty() || key.empty() || text(contacts, "email").empty() || text(contacts, "phone").empty())
    throw http::HttpError(400, "BAD_PURCHASE", "calculationId, clientRequestId and contacts.email, contacts.phone are required");
  std::string id = newPurchase(*entered, calculation, key);
  if (holdUntil(lock, purchases_.at(id).checked_at, req)) {
    auto it = purchases_.find(id);
    if (it != purchases_.end()) return http::sendJson(resp, 200, potokPolicyState(id, it->second));
  }
  http::sendJson(resp, 202, {{"draftId", id}, {"href", "/sales/v2/operations?oper_id=" + id}});
}

void InsurerSimulator::potokPolicy(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp,
                                   const std::string& insurer_id, const std::string& policy_id) {
  std::unique_lock lock(mutex_);
  Insurer* entered = enter(lock, req, resp, insurer_id, &Stats::purchase_polls);
  if (!entered) return;
  auto it = purchases_.find(policy_id);
  if (it == purchases_.end() || it->second.insurer_id != entered->profile.id)
    throw http::HttpError(404, "UNKNOWN_POLICY", "no policy " + policy_id.substr(0, 64));
  http::sendJson(resp, 200, potokPolicyState(policy_id, it->second));
}

}  // namespace osago::simulator
