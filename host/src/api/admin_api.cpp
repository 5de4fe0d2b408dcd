#include "api/admin_api.hpp"

#include "plugins/fleet_health.hpp"

#include <Poco/Logger.h>

namespace osago::host {
namespace {

/// Compares without revealing through timing how much of the token matched.
bool sameSecret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i % (b.empty() ? 1 : b.size())]);
  return diff == 0 && !b.empty();
}

}  // namespace

AdminApi::AdminApi(PluginRegistry& plugins, PartnerHealthStore& health, std::string token, std::string accepted,
                   std::string web_root)
    : plugins_(plugins), health_(health), token_(std::move(token)), accepted_(std::move(accepted)),
      web_root_(std::move(web_root)) {}

void AdminApi::registerRoutes(http::Router& router) {
  // The operators' page: static files; every call it makes carries the admin token.
  router.add("GET", "/admin", [this](auto&, auto& resp, const auto&) { http::sendStaticFile(resp, web_root_, "admin.html"); });
  router.add("GET", "/admin/static/{file}",
             [this](auto&, auto& resp, const auto& p) { http::sendStaticFile(resp, web_root_, p.at("file")); });
  router.add("GET", "/admin/plugins", [this](auto& req, auto& resp, const auto&) {
    authorize(req);
    http::sendJson(resp, 200, plugins_.describe());
  });
  router.add("GET", "/admin/partners", [this](auto& req, auto& resp, const auto&) {
    authorize(req);
    // Instances report every 2 s: 10 s without a report means the instance is gone.
    const std::chrono::seconds max_age(10);
    std::vector<PartnerHealthReport> reports;
    try {
      reports = health_.recent(max_age);
    } catch (const pg::Error& e) {
      if (!e.unavailable()) throw;
      throw http::HttpError(503, "STORAGE_UNAVAILABLE", "the fleet's health reports are not reachable; "
                                                        "GET /admin/plugins shows this instance's view");
    }
    http::sendJson(resp, 200, fleetView(reports, max_age));
  });
  router.add("POST", "/admin/plugins/rescan", [this](auto& req, auto& resp, const auto&) {
    authorize(req);
    RescanReport report = plugins_.rescan();
    nlohmann::json rejected = nlohmann::json::array();
    for (const auto& r : report.rejected) rejected.push_back({{"file", r.file}, {"error", r.error}});
    nlohmann::json body = plugins_.describe();
    body["changes"] = {{"loaded", report.loaded}, {"upgraded", report.upgraded}, {"removed", report.removed},
                       {"rejected", rejected}};
    http::sendJson(resp, 200, body);
  });
  router.add("POST", "/admin/plugins/{id}/enable",
             [this](auto& req, auto& resp, const auto& p) { setEnabled(req, resp, p.at("id"), true); });
  router.add("POST", "/admin/plugins/{id}/disable",
             [this](auto& req, auto& resp, const auto& p) { setEnabled(req, resp, p.at("id"), false); });
}

void AdminApi::authorize(const Poco::Net::HTTPServerRequest& request) const {
  if (token_.empty())
    throw http::HttpError(401, "UNAUTHORIZED", "the admin API is off: start the aggregator with OSAGO_ADMIN_TOKEN set");
  auto presented = http::bearerToken(request);
  bool admitted = sameSecret(presented, token_);
  if (!accepted_.empty()) admitted = sameSecret(presented, accepted_) || admitted;  // both compared, in constant time
  if (!admitted)
    throw http::HttpError(401, "UNAUTHORIZED", "a valid admin token is required (Authorization: Bearer …)");
}

void AdminApi::setEnabled(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response,
                          const std::string& plugin_id, bool enabled) {
  authorize(request);
  try {
    plugins_.setEnabled(plugin_id, enabled, "admin API from " + request.clientAddress().host().toString());
  } catch (const UnknownPluginError& e) {
    throw http::HttpError(404, "UNKNOWN_PLUGIN", e.what());
  } catch (const PluginStateError& e) {
    throw http::HttpError(409, "PLUGIN_NOT_LOADED", e.what());
  }
  Poco::Logger::get("admin").warning("plugin " + plugin_id + (enabled ? " enabled" : " disabled") + " by " +
                                     request.clientAddress().host().toString());
  http::sendJson(response, 200, plugins_.describePlugin(plugin_id));
}

}  // namespace osago::host
