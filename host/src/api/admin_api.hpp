#pragma once

#include "plugins/plugin_registry.hpp"
#include "store/partner_health_store.hpp"

#include <osago/common/http_server.hpp>

#include <string>

namespace osago::host {

/// The operators' REST API for plugins, behind a bearer token:
/// GET /admin/plugins, POST /admin/plugins/rescan,
/// POST /admin/plugins/{id}/enable, POST /admin/plugins/{id}/disable, and the
/// fleet-wide partner health: GET /admin/partners.
class AdminApi {
 public:
  /// An empty `token` refuses every call (the admin API is off); `accepted`, when
  /// not empty, is admitted too (the other token of a rotation). `web_root` holds
  /// the admin page, served without the token (it asks the operator for it).
  AdminApi(PluginRegistry& plugins, PartnerHealthStore& health, std::string token, std::string accepted,
           std::string web_root);

  void registerRoutes(http::Router& router);

 private:
  void authorize(const Poco::Net::HTTPServerRequest& request) const;
  void setEnabled(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response,
                  const std::string& plugin_id, bool enabled);

  PluginRegistry& plugins_;
  PartnerHealthStore& health_;
  std::string token_;
  std::string accepted_;
  std::string web_root_;
};

}  // namespace osago::host
