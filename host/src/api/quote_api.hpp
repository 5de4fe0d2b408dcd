#pragma once

#include "plugins/plugin_registry.hpp"
#include "scheduling/admission_control.hpp"
#include "store/quote_store.hpp"

#include <osago/common/civil_date.hpp>
#include <osago/common/http_server.hpp>
#include <osago/common/outside_json.hpp>
#include <osago/common/signed_tokens.hpp>

#include <chrono>
#include <functional>

namespace osago::host {

/// The REST API core-app calls: create a quote request, read its state, buy
/// one of its offers. Every
/// call must carry a service token `services` verifies (else 401).
class QuoteApi {
 public:
  /// `today` supplies the reference date for validation (injected in tests);
  /// `on_created` runs after a new request was committed (wakes the workers);
  /// `admission` says when a new request must be refused (503) instead.
  QuoteApi(QuoteStore& store, const PluginRegistry& plugins, const auth::ServiceTokenVerifier& services,
           AdmissionControl& admission, std::chrono::seconds deadline, std::function<CivilDate()> today,
           std::function<void()> on_created, std::chrono::seconds purchase_deadline = std::chrono::seconds(1800));

  void registerRoutes(http::Router& router);

 private:
  /// Throws a 401 HttpError unless the request carries a valid service token.
  void authenticate(const Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);
  void create(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);
  void get(Poco::Net::HTTPServerResponse& response, const std::string& id);
  void purchase(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response, const std::string& id,
                const std::string& company_id);

  QuoteStore& store_;
  const PluginRegistry& plugins_;
  const auth::ServiceTokenVerifier& services_;
  AdmissionControl& admission_;
  RejectionLog refused_{"api", "service_token"};
  std::chrono::seconds deadline_;
  std::function<CivilDate()> today_;
  std::function<void()> on_created_;
  std::chrono::seconds purchase_deadline_;
};

/// The JSON shape of a stored request (GET /osago/requests/{id}, see docs/api.md).
nlohmann::json toJson(const QuoteRequestView& view);

}  // namespace osago::host
