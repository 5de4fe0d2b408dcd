#include "flow_helpers.hpp"

#include "tariff.hpp"

#include <osago/common/civil_date.hpp>
#include <osago/common/quote_input.hpp>
#include <osago/plugin_sdk/plugin.hpp>

#include <gtest/gtest.h>

#include <osago/common/http_client.hpp>

#include <algorithm>
#include <memory>
#include <sstream>
#include <thread>

namespace osago::testing {
namespace {

using nlohmann::json;

std::unique_ptr<TestStack> shared_stack;

class StackEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { shared_stack = std::make_unique<TestStack>(); }
  void TearDown() override { shared_stack.reset(); }
};
const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new StackEnvironment);

}  // namespace

TestStack& stack() {
  if (!shared_stack) throw std::runtime_error("the test stack failed to start; see the set-up error above");
  return *shared_stack;
}

json quote(const std::string& driver_birth, const std::string& experience) {
  return {{"vehicle", {{"category", "B"}, {"make", "Toyota"}, {"model", "Camry"}, {"year", 2020}, {"enginePowerHp", 150},
                       {"vin", "XTA21099043765439"}, {"plate", "А123ВЕ777"}}},
          {"owner", {{"lastName", "Иванов"}, {"firstName", "Иван"}, {"middleName", "Иванович"},
                     {"birthDate", "1980-06-12"}, {"regionCode", "77"}}},
          {"drivers", json::array({{{"lastName", "Иванов"}, {"firstName", "Иван"}, {"birthDate", driver_birth},
                                    {"licenseSeries", "7712"}, {"licenseNumber", "345678"},
                                    {"experienceStartDate", experience}}})},
          {"policy", {{"startDate", CivilDate::todayUtc().plusDays(10).toString()}, {"usageMonths", 12}, {"multidrive", false}}}};
}

std::string expectedPremium(const json& q, long long base_rate_kopecks) {
  auto canonical = quote::validateQuoteInput(q, CivilDate::todayUtc()).input;
  auto in = simulator::tariffInputFromQuote(canonical, base_rate_kopecks);
  return sdk::rublesFromKopecks(simulator::computePremium(in).premium_kopecks);
}

std::string login(const std::string& user) {
  auto r = httpJson("POST", stack().coreUrl() + "/api/dev/login", {{"userId", user}});
  EXPECT_EQ(r.status, 200);
  return r.body.value("token", "");
}

json pluginNamed(const json& listing, const std::string& id) {
  if (!listing.is_object() || !listing.contains("plugins")) return nullptr;
  for (const auto& p : listing["plugins"])
    if (p.is_object() && p.value("id", "") == id) return p;
  return nullptr;
}

JsonResponse aggregatorJson(const std::string& method, const std::string& url, const json& body,
                            std::vector<std::pair<std::string, std::string>> headers) {
  headers.emplace_back("Authorization", stack().serviceAuthorization());
  return httpJson(method, url, body, "", headers);
}

JsonResponse createQuote(const std::string& aggregator_url, const json& body) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (true) {
    auto created = aggregatorJson("POST", aggregator_url + "/osago/requests", body);
    bool shed = created.status == 503 && created.body.is_object() && created.body.value("error", "") == "OVERLOADED";
    if (!shed || std::chrono::steady_clock::now() >= until) return created;
    int wait_s = 1;
    try {
      wait_s = std::clamp(std::stoi(created.retry_after), 1, 10);
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::seconds(wait_s));
  }
}

json waitFinal(const std::string& id, const std::string& aggregator_url) {
  std::string base = aggregator_url.empty() ? stack().aggregatorUrl() : aggregator_url;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(TestStack::kDeadlineSeconds + 10);
  json view;
  while (std::chrono::steady_clock::now() < until) {
    view = aggregatorJson("GET", base + "/osago/requests/" + id).body;
    if (view.value("status", "") == "COMPLETED") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return view;
}

std::map<std::string, json> byCompany(const json& companies) {
  std::map<std::string, json> out;
  for (const auto& c : companies) out[c["companyId"]] = c;
  return out;
}

JsonResponse admin(const std::string& method, const std::string& path, const std::string& aggregator_url) {
  std::string base = aggregator_url.empty() ? stack().aggregatorUrl() : aggregator_url;
  return httpJson(method, base + path, nullptr, stack().adminToken());
}

}  // namespace osago::testing

namespace osago::testing {

double Scrape::sum(const std::string& name, const std::vector<std::string>& labels) const {
  double total = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    auto brace = line.find('{');
    auto space = line.rfind(' ');
    std::string metric = line.substr(0, std::min(brace, line.find(' ')));
    if (metric != name) continue;
    std::string label_text = brace == std::string::npos ? "" : line.substr(brace, line.rfind('}') - brace);
    bool match = true;
    for (const auto& l : labels) match = match && label_text.find(l) != std::string::npos;
    if (match) total += std::stod(line.substr(space + 1));
  }
  return total;
}

Scrape scrape(const std::string& base_url) {
  osago::http::ClientRequest req;
  req.url = base_url + "/metrics";
  req.timeout = std::chrono::milliseconds(5000);
  auto r = osago::http::call(req);
  return {r.status, r.content_type, r.body};
}

}  // namespace osago::testing
