#include "simulator.hpp"

#include "tariff.hpp"

#include <osago/common/ids.hpp>
#include <osago/common/trace_context.hpp>
#include <osago/common/yaml_config.hpp>
#include <osago/plugin_sdk/plugin.hpp>

#include <Poco/Logger.h>

#include <cmath>
#include <random>
#include <thread>

namespace osago::simulator {

using nlohmann::json;

namespace {

const char* dialectName(Dialect d) {
  switch (d) {
    case Dialect::kGarant: return "garant";
    case Dialect::kVolna: return "volna";
    case Dialect::kPotok: return "potok";
    default: return "polisnet";
  }
}

double uniform01() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0, 1)(rng);
}

}  // namespace

json Behaviour::toJson() const {
  return {{"mode", mode},
          {"pendingMs", pending_ms},
          {"pendingJitterMs", pending_jitter_ms},
          {"errorRate", error_rate},
          {"purchaseCheckMs", purchase_check_ms},
          {"issueMs", issue_ms}};
}

void Behaviour::update(const json& j) {
  if (!j.is_object()) throw http::HttpError(400, "BAD_BEHAVIOUR", "a JSON object is expected");
  static const std::set<std::string> kModes = {"normal",     "decline",   "error", "malformed",
                                               "wrong_types", "oversized", "hang",  "trickle"};
  if (j.contains("mode")) {
    if (!j["mode"].is_string() || !kModes.count(j["mode"].get<std::string>()))
      throw http::HttpError(400, "BAD_BEHAVIOUR", "mode must be one of normal, decline, error, malformed, wrong_types, oversized, hang, trickle");
    mode = j["mode"];
  }
  if (j.contains("pendingMs")) pending_ms = std::max(0, j["pendingMs"].get<int>());
  if (j.contains("pendingJitterMs")) pending_jitter_ms = std::max(0, j["pendingJitterMs"].get<int>());
  if (j.contains("errorRate")) error_rate = std::clamp(j["errorRate"].get<double>(), 0.0, 1.0);
  if (j.contains("purchaseCheckMs")) purchase_check_ms = std::clamp(j["purchaseCheckMs"].get<int>(), 0, 600000);
  if (j.contains("issueMs")) issue_ms = std::clamp(j["issueMs"].get<int>(), 0, 600000);
}

SimulatorConfig SimulatorConfig::load(const std::string& file) {
  auto root = config::Section::loadFile(
      file, {"", {{"listen.port", "OSAGO_SIMULATOR_PORT"}, {"tls.port", "OSAGO_SIMULATOR_TLS_PORT"},
                  {"tls.cert_file", "OSAGO_SIMULATOR_TLS_CERT"}, {"tls.key_file", "OSAGO_SIMULATOR_TLS_KEY"}}});
  SimulatorConfig cfg;
  auto listen = config::readListen(root, cfg.port);
  cfg.host = listen.host;
  cfg.port = listen.port;
  auto tls = root.child("tls");
  cfg.tls_port = tls.get<int>("port", 0);
  if (cfg.tls_port < 0 || cfg.tls_port > 65535) throw ConfigError(file, "tls.port", "must be 0 (none) to 65535");
  cfg.tls_cert_file = tls.get<std::string>("cert_file", "");
  cfg.tls_key_file = tls.get<std::string>("key_file", "");
  if (!cfg.tls_cert_file.empty()) cfg.tls_cert_file = config::pathFrom(file, cfg.tls_cert_file);
  if (!cfg.tls_key_file.empty()) cfg.tls_key_file = config::pathFrom(file, cfg.tls_key_file);
  tls.finish();
  if (cfg.tls_port > 0 && (cfg.tls_cert_file.empty() || cfg.tls_key_file.empty()))
    throw ConfigError(file, "tls", "an HTTPS port needs cert_file and key_file");
  cfg.log_level = root.get<std::string>("log_level", cfg.log_level);
  for (auto& s : root.children("insurers")) {
    InsurerProfile p;
    p.id = s.require<std::string>("id");
    p.name = s.require<std::string>("name");
    std::string dialect = s.get<std::string>("dialect", "polisnet");
    if (dialect == "polisnet") p.dialect = Dialect::kPolisNet;
    else if (dialect == "garant") p.dialect = Dialect::kGarant;
    else if (dialect == "volna") p.dialect = Dialect::kVolna;
    else if (dialect == "potok") p.dialect = Dialect::kPotok;
    else throw ConfigError(file, s.qualified("dialect"), "must be polisnet, garant, volna or potok");
    p.api_key = s.get<std::string>("api_key", "");
    p.client_id = s.get<std::string>("client_id", "");
    p.client_secret = s.get<std::string>("client_secret", "");
    p.token_ttl_seconds = s.get<int>("token_ttl_seconds", 300);
    if (p.dialect == Dialect::kGarant && (p.client_id.empty() || p.client_secret.empty()))
      throw ConfigError(file, s.qualified("client_id"), "the garant dialect needs client_id and client_secret");
    if (p.dialect != Dialect::kGarant && p.api_key.empty())
      throw ConfigError(file, s.qualified("api_key"), "the " + dialect + " dialect needs an api_key");
    double rate = s.require<double>("base_rate_rub");
    if (rate < 1399 || rate > 8665) throw ConfigError(file, s.qualified("base_rate_rub"), "must be inside the corridor 1399..8665");
    p.base_rate_kopecks = std::llround(rate * 100);
    p.behaviour.pending_ms = s.get<int>("pending_ms", 2000);
    p.behaviour.pending_jitter_ms = s.get<int>("pending_jitter_ms", 0);
    p.behaviour.error_rate = s.get<double>("error_rate", 0);
    p.decline_under_age = s.get<int>("decline_under_age", 0);
    for (auto& r : s.get<std::vector<std::string>>("decline_regions", {})) p.decline_regions.insert(r);
    s.finish();
    cfg.insurers.push_back(std::move(p));
  }
  root.finish();
  if (cfg.insurers.empty()) throw ConfigError(file, "insurers", "at least one insurer is required");
  return cfg;
}

json canonicalFromGarant(const json& a) {
  const auto& v = a.at("vehicle");
  const auto& o = a.at("owner");
  const auto& p = a.at("policy");
  json drivers = json::array();
  for (const auto& d : a.value("drivers", json::array()))
    drivers.push_back({{"birthDate", d.at("birth_date")},
                       {"licenseSeries", d.at("licence_series")},
                       {"licenseNumber", d.at("licence_number")},
                       {"experienceStartDate", d.at("experience_since")}});
  return {{"vehicle", {{"enginePowerHp", v.at("power_hp")}, {"vin", v.at("vin")}}},
          {"owner", {{"regionCode", o.at("region_code")}, {"birthDate", o.at("birth_date")}}},
          {"drivers", drivers},
          {"policy", {{"startDate", p.at("start_date")}, {"usageMonths", p.at("period_months")},
                      {"multidrive", p.at("unlimited_drivers")}}}};
}

InsurerSimulator::InsurerSimulator(std::vector<InsurerProfile> insurers) {
  for (auto& p : insurers) {
    Insurer ins;
    ins.behaviour = p.behaviour;
    ins.profile = std::move(p);
    insurers_.emplace(ins.profile.id, std::move(ins));
  }
}

InsurerSimulator::~InsurerSimulator() { stopping_ = true; }

InsurerSimulator::Insurer& InsurerSimulator::insurer(const std::string& id) {
  auto it = insurers_.find(id);
  if (it == insurers_.end()) throw http::HttpError(404, "UNKNOWN_INSURER", "no insurer '" + id + "' here");
  return it->second;
}

void InsurerSimulator::authenticate(Insurer& ins, const Poco::Net::HTTPServerRequest& request) {
  const auto& p = ins.profile;
  bool ok = false;
  switch (p.dialect) {
    case Dialect::kPolisNet:
      ok = request.get("X-Api-Key", "") == p.api_key;
      break;
    case Dialect::kVolna:
      ok = request.get("Authorization", "") == "ApiKey " + p.api_key;
      break;
    case Dialect::kPotok:
      ok = request.get("Authorization", "") == "Token " + p.api_key;
      break;
    case Dialect::kGarant: {
      auto it = ins.tokens.find(http::bearerToken(request));
      ok = it != ins.tokens.end() && Clock::now() < it->second;
      break;
    }
  }
  if (!ok) {
    ++ins.stats.unauthorized;
    throw http::HttpError(401, p.dialect == Dialect::kGarant ? "invalid_token" : "UNAUTHORIZED",
                          "missing or wrong credentials for " + p.id);
  }
}

void InsurerSimulator::hang(Insurer& ins) {
  // Like a stuck partner: no answer while the mode stays "hang", but never
  // longer than 90 s and not past shutdown.
  for (int i = 0; i < 900 && !stopping_; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::lock_guard lock(mutex_);
    if (ins.behaviour.mode != "hang") break;
  }
  throw http::HttpError(504, "GATEWAY_TIMEOUT", "the simulated partner hung");
}

void InsurerSimulator::trickle(Poco::Net::HTTPServerResponse& response) {
  // A well-formed answer, one byte every 100 ms: each read finds data, so only a
  // deadline on the whole call cuts it (it would take 9 s here). Not past shutdown.
  const std::string body = R"({"status": "pending", "note": "slowly, slowly, one byte at a time......"})";
  response.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
  response.setContentType("application/json");
  response.setContentLength(static_cast<std::streamsize>(body.size()));
  std::ostream& out = response.send();
  for (char c : body) {
    if (stopping_ || !out) return;
    out << c << std::flush;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

bool InsurerSimulator::misbehave(Insurer& ins, Poco::Net::HTTPServerResponse& response) {
  const Behaviour& b = ins.behaviour;  // caller holds mutex_
  if (b.mode == "error" || (b.mode == "normal" && b.error_rate > 0 && uniform01() < b.error_rate)) {
    response.setStatus(Poco::Net::HTTPResponse::HTTP_SERVICE_UNAVAILABLE);
    response.setContentType("text/html");
    response.send() << "<html><body>503 Service Temporarily Unavailable</body></html>";
    return true;
  }
  if (b.mode == "malformed") {
    response.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
    response.setContentType("application/json");
    response.send() << R"({"status": "offer", "premium": {"amount": )";
    return true;
  }
  if (b.mode == "wrong_types") {
    // Valid JSON whose every field a dialect reads has the wrong type.
    response.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
    response.setContentType("application/json");
    response.send() << R"({"applicationId": ["x"], "application_id": null, "id": {"a": 1}, "status": 7, "state": false,)"
                    << R"( "result": [], "premium": "a lot", "premium_amount": {"rub": true}, "price": null,)"
                    << R"( "offer": "none", "amount": [1, 2], "decision": 3, "reason": {"code": null}})";
    return true;
  }
  if (b.mode == "oversized") {
    // 8 MiB of JSON: more than a partner's answer may be.
    response.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
    response.setContentType("application/json");
    std::string pad(8u << 20, 'a');
    response.send() << R"({"status": "pending", "padding": ")" << pad << R"("})";
    return true;
  }
  return false;
}

json InsurerSimulator::decide(const InsurerProfile& p, const json& quote, const std::string& id) const {
  TariffInput in = tariffInputFromQuote(quote, p.base_rate_kopecks);
  if (p.decline_regions.count(in.region_code))
    return {{"kind", "declined"}, {"reason", "REGION_NOT_SERVED"}, {"message", "owner's region is outside our network"}};
  for (const auto& d : in.drivers)
    if (p.decline_under_age > 0 && d.age < p.decline_under_age)
      return {{"kind", "declined"}, {"reason", "DRIVER_TOO_YOUNG"},
              {"message", "drivers under " + std::to_string(p.decline_under_age) + " are not insured"}};
  TariffResult r = computePremium(in);
  return {{"kind", "offer"}, {"offerId", id + "-1"}, {"premiumKopecks", r.premium_kopecks}, {"factors", r.factors}};
}

void InsurerSimulator::registerRoutes(http::Router& router) {
  router.add("POST", "/{insurer}/osago/applications",
             [this](auto& req, auto& resp, const http::PathParams& p) { submit(req, resp, p.at("insurer")); });
  router.add("GET", "/{insurer}/osago/applications/{id}/offer",
             [this](auto& req, auto& resp, const http::PathParams& p) { offer(req, resp, p.at("insurer"), p.at("id")); });
  router.add("POST", "/{insurer}/oauth/token",
             [this](auto& req, auto& resp, const http::PathParams& p) { token(req, resp, p.at("insurer")); });
  registerPurchaseRoutes(router);
  registerPotokRoutes(router);

  router.add("GET", "/control/insurers", [this](auto&, auto& resp, const auto&) {
    std::lock_guard lock(mutex_);
    json out = json::array();
    for (const auto& [id, ins] : insurers_)
      out.push_back({{"id", id}, {"name", ins.profile.name}, {"dialect", dialectName(ins.profile.dialect)},
                     {"behaviour", ins.behaviour.toJson()}});
    http::sendJson(resp, 200, out);
  });
  router.add("GET", "/control/insurers/{insurer}", [this](auto&, auto& resp, const http::PathParams& p) {
    std::lock_guard lock(mutex_);
    Insurer& ins = insurer(p.at("insurer"));
    http::sendJson(resp, 200,
                   {{"id", ins.profile.id}, {"dialect", dialectName(ins.profile.dialect)},
                    {"behaviour", ins.behaviour.toJson()},
                    {"stats", {{"applications", ins.stats.applications}, {"polls", ins.stats.polls},
                               {"tokens", ins.stats.tokens}, {"unauthorized", ins.stats.unauthorized},
                               {"overlappingPolls", ins.stats.overlapping_polls}, {"purchases", ins.stats.purchases},
                               {"purchasePolls", ins.stats.purchase_polls}}}});
  });
  router.add("PUT", "/control/insurers/{insurer}/behaviour", [this](auto& req, auto& resp, const http::PathParams& p) {
    json body = http::readJsonBody(req);
    std::lock_guard lock(mutex_);
    Insurer& ins = insurer(p.at("insurer"));
    Behaviour b = ins.behaviour;
    b.update(body);
    ins.behaviour = b;
    http::sendJson(resp, 200, ins.behaviour.toJson());
  });
  router.add("POST", "/control/insurers/{insurer}/expire-tokens", [this](auto&, auto& resp, const http::PathParams& p) {
    std::lock_guard lock(mutex_);
    insurer(p.at("insurer")).tokens.clear();
    http::sendJson(resp, 200, {{"expired", true}});
  });
  // For the goodput benchmark: when the answer of each application was ready
  // (Unix ms), so that the delay until the aggregator stored it can be measured.
  router.add("POST", "/control/ready-times", [this](auto& req, auto& resp, const auto&) {
    json body = http::readJsonBody(req, 1 << 20);
    if (!body.is_object() || !body.contains("ids") || !body["ids"].is_array() || body["ids"].size() > 10000)
      throw http::HttpError(400, "VALIDATION_FAILED", "ids must be an array of at most 10000 application ids");
    json out = json::object();
    std::lock_guard lock(mutex_);
    for (const auto& id : body["ids"]) {
      if (!id.is_string()) throw http::HttpError(400, "VALIDATION_FAILED", "ids must be strings");
      auto it = applications_.find(id.get<std::string>());
      out[id.get<std::string>()] = it == applications_.end() ? json(nullptr) : json(it->second.ready_at_unix_ms);
    }
    http::sendJson(resp, 200, {{"readyAtMs", std::move(out)}});
  });
  router.add("POST", "/control/reset", [this](auto&, auto& resp, const auto&) {
    std::lock_guard lock(mutex_);
    for (auto& [id, ins] : insurers_) {
      ins.behaviour = ins.profile.behaviour;
      ins.stats = Stats{};
    }
    http::sendJson(resp, 200, {{"reset", true}});
  });
}

void InsurerSimulator::token(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp,
                             const std::string& insurer_id) {
  json body = http::readJsonBody(req, 4096);
  std::lock_guard lock(mutex_);
  Insurer& ins = insurer(insurer_id);
  if (ins.profile.dialect != Dialect::kGarant) throw http::HttpError(404, "NOT_FOUND", "no token endpoint here");
  if (!body.is_object() || body.value("client_id", "") != ins.profile.client_id ||
      body.value("client_secret", "") != ins.profile.client_secret) {
    ++ins.stats.unauthorized;
    throw http::HttpError(401, "invalid_client", "wrong client_id or client_secret");
  }
  ++ins.stats.tokens;
  std::string t = newUuid();
  ins.tokens[t] = Clock::now() + std::chrono::seconds(ins.profile.token_ttl_seconds);
  http::sendJson(resp, 200, {{"access_token", t}, {"token_type", "Bearer"}, {"expires_in", ins.profile.token_ttl_seconds}});
}

InsurerSimulator::Insurer* InsurerSimulator::enter(std::unique_lock<std::mutex>& lock, Poco::Net::HTTPServerRequest& req,
                                                   Poco::Net::HTTPServerResponse& resp, const std::string& insurer_id,
                                                   long Stats::*counter) {
  Insurer& ins = insurer(insurer_id);
  authenticate(ins, req);
  if (counter) ++(ins.stats.*counter);
  if (ins.behaviour.mode == "hang") {
    lock.unlock();
    hang(ins);
  }
  if (ins.behaviour.mode == "trickle") {
    lock.unlock();
    trickle(resp);
    return nullptr;
  }
  if (misbehave(ins, resp)) return nullptr;
  return &ins;
}

std::string InsurerSimulator::newApplication(Insurer& ins, const json& body, const Poco::Net::HTTPServerRequest& req) {
  const InsurerProfile& p = ins.profile;
  std::string id = newUuid();
  json outcome;
  try {
    json quote = p.dialect == Dialect::kGarant ? canonicalFromGarant(body) : body;
    outcome = decide(p, quote, id);
  } catch (const std::exception& e) {
    throw http::HttpError(p.dialect == Dialect::kGarant ? 422 : 400, "BAD_APPLICATION",
                          std::string("application rejected: ") + e.what());
  }
  if (ins.behaviour.mode == "decline")
    outcome = {{"kind", "declined"}, {"reason", "UNDERWRITING_REFUSED"}, {"message", "the underwriter refused"}};
  int pending = ins.behaviour.pending_ms;
  if (ins.behaviour.pending_jitter_ms > 0) pending += static_cast<int>(uniform01() * ins.behaviour.pending_jitter_ms);
  auto ready_wall = std::chrono::system_clock::now() + std::chrono::milliseconds(pending);
  applications_[id] = Application{p.id, Clock::now() + std::chrono::milliseconds(pending), std::move(outcome),
                                  std::chrono::duration_cast<std::chrono::milliseconds>(ready_wall.time_since_epoch()).count()};
  order_.push_back(id);
  ++ins.stats.applications;
  // The caller's W3C trace, as a partner's own logs would keep it: one quote followed to here.
  if (auto trace = TraceContext::parse(req.get("traceparent", "")))
    Poco::Logger::get("simulator").information(logTag(id, trace->trace_id) + p.id + ": application accepted (traceparent " +
                                               trace->header() + ")");
  while (applications_.size() > kMaxApplications) applications_.erase(order_[evict_from_++]);
  if (evict_from_ > kMaxApplications) {
    order_.erase(order_.begin(), order_.begin() + static_cast<long>(evict_from_));
    evict_from_ = 0;
  }
  return id;
}

void InsurerSimulator::submit(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp,
                              const std::string& insurer_id) {
  json body = http::readJsonBody(req, 64 * 1024);
  std::unique_lock lock(mutex_);
  Insurer* entered = enter(lock, req, resp, insurer_id, nullptr);
  if (!entered) return;
  Insurer& ins = *entered;
  const InsurerProfile& p = ins.profile;
  std::string id = newApplication(ins, body, req);
  switch (p.dialect) {
    case Dialect::kPolisNet: http::sendJson(resp, 201, {{"applicationId", id}}); break;
    case Dialect::kGarant: http::sendJson(resp, 201, {{"application_id", id}}); break;
    case Dialect::kVolna: http::sendJson(resp, 200, {{"id", id}, {"state", "processing"}}); break;
    case Dialect::kPotok: break;  // not reached: potok's applications come through /sales/v2 (potok.cpp)
  }
}

void InsurerSimulator::offer(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp,
                             const std::string& insurer_id, const std::string& application_id) {
  std::unique_lock lock(mutex_);
  Insurer* entered = enter(lock, req, resp, insurer_id, &Stats::polls);
  if (!entered) return;
  Insurer& ins = *entered;
  auto it = applications_.find(application_id);
  if (it == applications_.end() || it->second.insurer_id != ins.profile.id)
    throw http::HttpError(404, "UNKNOWN_APPLICATION", "no application " + application_id);
  bool pending = Clock::now() < it->second.ready_at;
  json o = it->second.outcome;
  auto retry_after_s = std::max<long long>(
      1, std::chrono::duration_cast<std::chrono::seconds>(it->second.ready_at - Clock::now()).count());
  // Count polls of one application that overlap: the aggregator must never poll twice at once.
  if (++it->second.polls_in_flight > 1) ++ins.stats.overlapping_polls;
  std::string app_id = it->first;
  lock.unlock();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));  // a partner takes a moment
  {
    std::lock_guard relock(mutex_);
    if (auto again = applications_.find(app_id); again != applications_.end()) --again->second.polls_in_flight;
  }

  bool offered = o["kind"] == "offer";
  std::string premium = offered ? sdk::rublesFromKopecks(o["premiumKopecks"].get<long long>()) : "";
  switch (ins.profile.dialect) {
    case Dialect::kPolisNet:
      if (pending)
        http::sendJson(resp, 200, {{"applicationId", application_id}, {"status", "pending"}});
      else if (offered)
        http::sendJson(resp, 200, {{"applicationId", application_id}, {"status", "offer"}, {"offerId", o["offerId"]},
                                   {"premium", {{"amount", premium}, {"currency", "RUB"}}}, {"factors", o["factors"]}});
      else
        http::sendJson(resp, 200, {{"applicationId", application_id}, {"status", "declined"}, {"reason", o["reason"]},
                                   {"message", o["message"]}});
      break;
    case Dialect::kGarant:
      if (pending) {
        resp.set("Retry-After", std::to_string(retry_after_s));
        http::sendJson(resp, 202, {{"application_id", application_id}, {"status", "IN_PROGRESS"}});
      } else if (offered) {
        http::sendJson(resp, 200, {{"application_id", application_id}, {"status", "APPROVED"}, {"offer_id", o["offerId"]},
                                   {"premium_kopecks", o["premiumKopecks"]}, {"coefficients", o["factors"]}});
      } else {
        http::sendJson(resp, 200, {{"application_id", application_id}, {"status", "REJECTED"},
                                   {"reject_code", o["reason"]}, {"reject_reason", o["message"]}});
      }
      break;
    case Dialect::kVolna:
      if (pending) {
        resp.set("Retry-After", std::to_string(retry_after_s));
        // A long wait is "hold" (manual underwriting), a short one "processing".
        http::sendJson(resp, 200, {{"id", application_id}, {"state", retry_after_s > 5 ? "hold" : "processing"}});
      } else if (offered) {
        http::sendJson(resp, 200, {{"id", application_id}, {"state", "done"}, {"quoteRef", o["offerId"]},
                                   {"price", {{"value", premium}, {"cur", "RUR"}}}});
      } else {
        http::sendJson(resp, 200, {{"id", application_id}, {"state", "rejected"}, {"why", o["reason"]},
                                   {"comment", o["message"]}});
      }
      break;
    case Dialect::kPotok:
      throw http::HttpError(404, "NOT_FOUND", "potok's calculations are operations: GET /sales/v2/operations?oper_id=…");
  }
}

}  // namespace osago::simulator
