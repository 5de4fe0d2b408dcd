#include "simulator.hpp"

#include "tariff.hpp"

#include <osago/common/civil_date.hpp>
#include <osago/common/ids.hpp>
#include <osago/common/yaml_config.hpp>
#include <osago/plugin_sdk/plugin.hpp>


#include <cmath>

namespace osago::simulator {

using nlohmann::json;

SimulatorConfig SimulatorConfig::load(const std::string& file) {
  auto root = config::Section::loadFile(file);
  SimulatorConfig cfg;
  auto listen = config::readListen(root, cfg.port);
  cfg.host = listen.host;
  cfg.port = listen.port;
  cfg.log_level = root.get<std::string>("log_level", cfg.log_level);
  for (auto& s : root.children("insurers")) {
    InsurerProfile p;
    p.id = s.require<std::string>("id");
    p.name = s.require<std::string>("name");
    double rate = s.require<double>("base_rate_rub");
    if (rate < 1399 || rate > 8665) throw ConfigError(file, s.qualified("base_rate_rub"), "must be inside the corridor 1399..8665");
    p.base_rate_kopecks = std::llround(rate * 100);
    p.pending = std::chrono::milliseconds(s.get<int>("pending_ms", 2000));
    p.decline_under_age = s.get<int>("decline_under_age", 0);
    for (auto& r : s.get<std::vector<std::string>>("decline_regions", {})) p.decline_regions.insert(r);
    s.finish();
    cfg.insurers.push_back(std::move(p));
  }
  root.finish();
  if (cfg.insurers.empty()) throw ConfigError(file, "insurers", "at least one insurer is required");
  if (auto port = config::envInt("OSAGO_SIMULATOR_PORT")) cfg.port = *port;
  return cfg;
}

InsurerSimulator::InsurerSimulator(std::vector<InsurerProfile> insurers) {
  for (auto& p : insurers) insurers_.emplace(p.id, std::move(p));
}

const InsurerProfile& InsurerSimulator::insurer(const std::string& id) const {
  auto it = insurers_.find(id);
  if (it == insurers_.end()) throw http::HttpError(404, "UNKNOWN_INSURER", "no insurer '" + id + "' here");
  return it->second;
}

json InsurerSimulator::decide(const InsurerProfile& p, const json& quote, const std::string& application_id) const {
  TariffInput in = tariffInputFromQuote(quote, p.base_rate_kopecks);
  if (p.decline_regions.count(in.region_code))
    return {{"status", "declined"}, {"reason", "REGION_NOT_SERVED"}, {"message", "owner's region is outside our network"}};
  for (const auto& d : in.drivers)
    if (p.decline_under_age > 0 && d.age < p.decline_under_age)
      return {{"status", "declined"}, {"reason", "DRIVER_TOO_YOUNG"},
              {"message", "drivers under " + std::to_string(p.decline_under_age) + " are not insured"}};
  TariffResult r = computePremium(in);
  return {{"status", "offer"},
          {"offerId", application_id + "-1"},
          {"premium", {{"amount", sdk::rublesFromKopecks(r.premium_kopecks)}, {"currency", "RUB"}}},
          {"factors", r.factors}};
}

void InsurerSimulator::registerRoutes(http::Router& router) {
  router.add("POST", "/{insurer}/osago/applications",
             [this](Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp, const http::PathParams& p) {
               const InsurerProfile& ins = insurer(p.at("insurer"));
               json quote = http::readJsonBody(req, 64 * 1024);
               std::string id = newUuid();
               json outcome;
               try {
                 outcome = decide(ins, quote, id);
               } catch (const std::exception& e) {
                 throw http::HttpError(400, "BAD_APPLICATION", std::string("application rejected: ") + e.what());
               }
               {
                 std::lock_guard lock(mutex_);
                 applications_[id] = Application{ins.id, std::chrono::steady_clock::now() + ins.pending, std::move(outcome)};
                 order_.push_back(id);
                 while (applications_.size() > kMaxApplications) applications_.erase(order_[evict_from_++]);
                 if (evict_from_ > kMaxApplications) {
                   order_.erase(order_.begin(), order_.begin() + static_cast<long>(evict_from_));
                   evict_from_ = 0;
                 }
               }
               http::sendJson(resp, 201, {{"applicationId", id}});
             });
  router.add("GET", "/{insurer}/osago/applications/{id}/offer",
             [this](Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& resp, const http::PathParams& p) {
               const InsurerProfile& ins = insurer(p.at("insurer"));
               json body;
               {
                 std::lock_guard lock(mutex_);
                 auto it = applications_.find(p.at("id"));
                 if (it == applications_.end() || it->second.insurer_id != ins.id)
                   throw http::HttpError(404, "UNKNOWN_APPLICATION", "no application " + p.at("id"));
                 body = std::chrono::steady_clock::now() < it->second.ready_at ? json{{"status", "pending"}}
                                                                               : it->second.outcome;
               }
               body["applicationId"] = p.at("id");
               http::sendJson(resp, 200, body);
             });
}

}  // namespace osago::simulator
