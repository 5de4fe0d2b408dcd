#pragma once

#include "clients.hpp"
#include "test_stack.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace osago::testing {

/// One scrape of a service's /metrics.
struct Scrape {
  int status = 0;
  std::string content_type;
  std::string text;

  /// The sum of every sample of `name` whose label set contains each of `labels` (e.g. `result="created"`).
  double sum(const std::string& name, const std::vector<std::string>& labels = {}) const;
  bool has(const std::string& name) const { return text.find("\n" + name) != std::string::npos; }
};
/// GET `base_url`/metrics.
Scrape scrape(const std::string& base_url);

/// The stack shared by every test of the binary, started once before the first test.
TestStack& stack();

/// A valid quote input (Moscow, a 46-year-old driver unless given), policy starting in 10 days.
nlohmann::json quote(const std::string& driver_birth = "1980-06-12", const std::string& experience = "2005-05-20");

/// The premium the simulator must quote for `q` with `base_rate_kopecks`, from the tariff tables.
std::string expectedPremium(const nlohmann::json& q, long long base_rate_kopecks);

/// Signs `user` in at core-app and returns the token.
std::string login(const std::string& user);

/// Polls the aggregator until the request is final (bounded by the deadline plus slack).
nlohmann::json waitFinal(const std::string& request_id, const std::string& aggregator_url = {});

/// Companies of a request view (or create answer) by company id.
std::map<std::string, nlohmann::json> byCompany(const nlohmann::json& companies);

/// Calls the aggregator's /osago/* API as core-app does: with a service token of the stack's key.
JsonResponse aggregatorJson(const std::string& method, const std::string& url, const nlohmann::json& body = nullptr,
                            std::vector<std::pair<std::string, std::string>> headers = {});

/// POST `aggregator_url`/osago/requests as a well-behaved client does (core-app's
/// page does the same): a `503 OVERLOADED` is sent again, with the same body and so
/// the same idempotency key, after its Retry-After; for at most a minute. Tests
/// about durability use it, so that the shared stack shedding a burst (the work a
/// previous test left due) is not taken for a lost request.
JsonResponse createQuote(const std::string& aggregator_url, const nlohmann::json& body);

/// The plugin `id` of a GET /admin/plugins listing; null when it is not listed.
nlohmann::json pluginNamed(const nlohmann::json& listing, const std::string& id);

/// Calls the aggregator's admin API with the stack's token.
JsonResponse admin(const std::string& method, const std::string& path, const std::string& aggregator_url = {});

}  // namespace osago::testing
