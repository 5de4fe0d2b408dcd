#include "plugins/fleet_health.hpp"

#include <osago/common/errors.hpp>

#include <Poco/Logger.h>

#include <algorithm>
#include <map>
#include <set>

namespace osago::host {

FleetHealthReporter::FleetHealthReporter(const PluginRegistry& plugins, PartnerHealthStore& store,
                                         std::string instance_id, std::chrono::milliseconds period)
    : plugins_(plugins), store_(store), instance_id_(std::move(instance_id)), period_(period) {}

FleetHealthReporter::~FleetHealthReporter() { stop(); }

void FleetHealthReporter::start() {
  thread_.start([this] { loop(); });
}

void FleetHealthReporter::stop() {
  if (!thread_.running()) return;
  thread_.stop();
  try {
    store_.withdraw(instance_id_);
  } catch (const std::exception& e) {
    Poco::Logger::get("admin").warning(std::string("cannot withdraw this instance's health reports: ") + errorText(e));
  }
}

std::vector<PartnerHealthReport> FleetHealthReporter::reportsOf(const HealthView& view, const std::string& instance_id) {
  std::vector<PartnerHealthReport> out;
  for (const auto& company : view.companies) {
    if (!company.ready) continue;
    nlohmann::json report = company.report;
    report["pluginEnabled"] = company.plugin_enabled;
    report["pluginVersion"] = company.plugin_version;
    nlohmann::json window = nlohmann::json::array();
    if (company.health)
      for (const auto& i : company.health->answer_times.own(AnswerTimes::kShared)) window.push_back({i.lo_ms, i.hi_ms});
    report["answerWindow"] = std::move(window);
    out.push_back({instance_id, company.id, company.plugin_id, std::move(report), {}, 0});
  }
  return out;
}

void FleetHealthReporter::absorbAnswerTimes(const HealthView& view, const std::vector<PartnerHealthReport>& reports,
                                            const std::string& instance_id) {
  for (const auto& company : view.companies) {
    if (!company.health) continue;
    std::set<std::string> live;
    for (const auto& r : reports) {
      if (r.company_id != company.id || r.instance_id == instance_id || !r.report.is_object()) continue;
      auto window = r.report.find("answerWindow");
      if (window == r.report.end()) continue;
      company.health->answer_times.setFleet(r.instance_id, answerWindowFrom(*window));
      live.insert(r.instance_id);
    }
    company.health->answer_times.retainFleet(live);
  }
}

void FleetHealthReporter::loop() {
  auto& log = Poco::Logger::get("admin");
  bool warned = false;
  while (thread_.running()) {
    try {
      auto view = plugins_.healthView(true);
      store_.publish(instance_id_, reportsOf(view, instance_id_), std::chrono::hours(1));
      absorbAnswerTimes(view, store_.recent(kAnswerTimesMaxAge), instance_id_);
      warned = false;
    } catch (const std::exception& e) {
      if (!warned) log.warning(std::string("cannot publish partner health: ") + errorText(e));
      warned = true;
    }
    thread_.waitFor(period_);
  }
}

namespace {

int breakerSeverity(const std::string& state) {
  if (state == "OPEN") return 2;
  if (state == "HALF_OPEN") return 1;
  return 0;
}

// The reports are other instances' words through PostgreSQL: read with type
// checks, a field of the wrong type counts as absent (the view never throws).
const nlohmann::json& member(const nlohmann::json& j, const char* key) {
  static const nlohmann::json absent;
  if (!j.is_object()) return absent;
  auto it = j.find(key);
  return it != j.end() ? *it : absent;
}

// A count or a latency: 0 to 10^15 (what is not a number, or outside that, counts as 0),
// so sums over instances cannot overflow and no float is cast out of range.
long long number(const nlohmann::json& j, const char* key) {
  constexpr double kMax = 1e15;
  const auto& v = member(j, key);
  if (!v.is_number()) return 0;
  double d = v.get<double>();
  return d >= 0 && d <= kMax ? static_cast<long long>(d) : 0;
}

std::string text(const nlohmann::json& j, const char* key, std::string fallback = {}) {
  const auto& v = member(j, key);
  return v.is_string() ? v.get<std::string>() : fallback;
}

nlohmann::json object(const nlohmann::json& j, const char* key) {
  const auto& v = member(j, key);
  return v.is_object() ? v : nlohmann::json::object();
}

}  // namespace

nlohmann::json fleetView(const std::vector<PartnerHealthReport>& reports, std::chrono::seconds max_age) {
  std::map<std::string, nlohmann::json> companies;  // by id, in id order
  for (const auto& r : reports) {
    auto& c = companies[r.company_id];
    if (c.is_null()) {
      c = {{"id", r.company_id},   {"name", text(r.report, "name")}, {"plugin", r.plugin_id},
           {"breaker", "CLOSED"},  {"instances", 0},                     {"callsRunning", 0},
           {"callsQueued", 0},     {"calls", 0},                         {"failures", 0},
           {"p95LatencyMs", nullptr}, {"perInstance", nlohmann::json::array()}};
    }
    const auto health = object(r.report, "health");
    std::string breaker = text(object(health, "breaker"), "state", "CLOSED");
    if (breakerSeverity(breaker) > breakerSeverity(c["breaker"].get<std::string>())) c["breaker"] = breaker;
    c["instances"] = c["instances"].get<int>() + 1;
    c["callsRunning"] = c["callsRunning"].get<long long>() + number(r.report, "callsRunning");
    c["callsQueued"] = c["callsQueued"].get<long long>() + number(r.report, "callsQueued");
    c["calls"] = c["calls"].get<long long>() + number(health, "calls");
    c["failures"] = c["failures"].get<long long>() + number(health, "failures");
    const auto& latency = member(health, "latencyMs");
    if (member(latency, "p95").is_number()) {
      long long p95 = number(latency, "p95");
      if (c["p95LatencyMs"].is_null() || p95 > c["p95LatencyMs"].get<long long>()) c["p95LatencyMs"] = p95;
    }
    c["perInstance"].push_back({{"instance", r.instance_id},
                                {"reportedAt", r.reported_at},
                                {"ageMs", r.age_ms},
                                {"pluginVersion", text(r.report, "pluginVersion")},
                                {"pluginEnabled", member(r.report, "pluginEnabled").is_boolean() && member(r.report, "pluginEnabled").get<bool>()},
                                {"callsRunning", number(r.report, "callsRunning")},
                                {"callsQueued", number(r.report, "callsQueued")},
                                {"health", health}});
  }
  nlohmann::json out{{"reportedWithinSeconds", max_age.count()}, {"companies", nlohmann::json::array()}};
  for (auto& [id, c] : companies) {
    long long calls = c["calls"].get<long long>();
    double failed = std::min(1.0, static_cast<double>(c["failures"].get<long long>()) / std::max(calls, 1LL));
    c["successRate"] = calls > 0 ? nlohmann::json(1.0 - failed) : nlohmann::json(nullptr);
    out["companies"].push_back(std::move(c));
  }
  return out;
}

}  // namespace osago::host
