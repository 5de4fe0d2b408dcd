#include "conformance/conformance_kit.hpp"

#include "plugins/insurer_adapter.hpp"
#include "plugins/plugin_library.hpp"
#include "plugins/plugin_manifest.hpp"

#include <osago/common/civil_date.hpp>
#include <osago/common/http_client.hpp>
#include <osago/common/ids.hpp>
#include <osago/common/quote_input.hpp>
#include <osago/plugin_sdk/partner_http.hpp>

#include <filesystem>
#include <functional>
#include <thread>

namespace osago::host {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

json sampleQuote() {
  CivilDate today = CivilDate::todayUtc();
  CivilDate birth = today;
  birth.year -= 40;
  CivilDate licence = today;
  licence.year -= 15;
  json q = {{"vehicle", {{"category", "B"}, {"make", "Lada"}, {"model", "Vesta"}, {"year", today.year - 3},
                         {"enginePowerHp", 106}, {"vin", "XTA21099043765439"}, {"plate", "А123ВЕ777"}}},
            {"owner", {{"lastName", "Петров"}, {"firstName", "Пётр"}, {"birthDate", birth.toString()}, {"regionCode", "77"}}},
            {"drivers", json::array({{{"lastName", "Петров"}, {"firstName", "Пётр"}, {"birthDate", birth.toString()},
                                      {"licenseSeries", "7712"}, {"licenseNumber", "345678"},
                                      {"experienceStartDate", licence.toString()}}})},
            {"policy", {{"startDate", today.plusDays(1).toString()}, {"usageMonths", 12}, {"multidrive", false}}}};
  return quote::validateQuoteInput(q, today).input;
}

std::string describe(const PartnerOutcome& o) {
  switch (o.kind) {
    case PartnerOutcome::Kind::Pending: return "PENDING " + o.external_id;
    case PartnerOutcome::Kind::Offer: return "OFFER " + o.offer["premium"].value("amount", "?") + " RUB";
    case PartnerOutcome::Kind::Declined: return "DECLINED " + o.decline_reason;
    case PartnerOutcome::Kind::Failed: return std::string("FAILED ") + name(o.failure) + ": " + o.message;
  }
  return "?";
}

std::string describe(const PurchaseOutcome& o) {
  std::string text = std::string(name(o.kind)) + (o.external_id.empty() ? "" : " " + o.external_id);
  if (o.kind == PurchaseOutcome::Kind::Payment) text += " " + o.payment_url;
  if (o.kind == PurchaseOutcome::Kind::Issued) text += " policy " + o.policy_number;
  if (o.kind == PurchaseOutcome::Kind::Declined) text += " " + o.decline_reason;
  if (o.kind == PurchaseOutcome::Kind::Failed) text += std::string(" ") + name(o.failure) + ": " + o.message;
  return text;
}

class Kit {
 public:
  Kit(const ConformanceTarget& t, std::shared_ptr<PluginLibrary> lib, CompanyConfig company)
      : t_(t), lib_(std::move(lib)), company_(std::move(company)),
        insurer_(t.insurer_id.empty() ? company_.id : t.insurer_id) {}

  void setBehaviour(const json& behaviour) {
    http::ClientRequest req;
    req.method = "PUT";
    req.url = t_.simulator_url + "/control/insurers/" + insurer_ + "/behaviour";
    req.body = behaviour.dump();
    req.timeout = 2s;
    auto r = http::call(req);
    if (r.status != 200) throw Error("the simulator refused behaviour " + behaviour.dump() + ": HTTP " + std::to_string(r.status));
  }
  json behaviour() {
    http::ClientRequest req;
    req.url = t_.simulator_url + "/control/insurers/" + insurer_;
    req.timeout = 2s;
    auto r = http::call(req);
    if (r.status != 200)
      throw Error("the simulator at " + t_.simulator_url + " does not serve insurer '" + insurer_ + "' (HTTP " +
                  std::to_string(r.status) + ")");
    return json::parse(r.body)["behaviour"];
  }

  /// The insurer's counters at the simulator (applications, purchases, …).
  json stats() {
    http::ClientRequest req;
    req.url = t_.simulator_url + "/control/insurers/" + insurer_;
    req.timeout = 2s;
    return json::parse(http::call(req).body)["stats"];
  }

  /// Pays a purchase at the simulator, as the buyer would on its payment page.
  void pay(const std::string& purchase_id) {
    http::ClientRequest req;
    req.method = "POST";
    req.url = t_.simulator_url + "/control/purchases/" + purchase_id + "/pay";
    req.timeout = 2s;
    auto r = http::call(req);
    if (r.status != 200) throw Error("the simulator did not take the payment of " + purchase_id + ": HTTP " + std::to_string(r.status));
  }

  /// Buys the offer `offered` as the host does: issue (twice, with one purchaseId, when
  /// `twice`), then issue_poll while the purchase is in one of `while_in` (follow()).
  std::vector<PurchaseOutcome> buy(InsurerAdapter& adapter, const PartnerOutcome& offered, bool twice,
                                   std::initializer_list<PurchaseOutcome::Kind> while_in) {
    json document = {{"v", 1},
                     {"purchaseId", newUuid()},
                     {"applicationId", offered.external_id},
                     {"offer", offered.offer},
                     {"quote", quote_},
                     {"buyer", {{"email", "petrov@example.ru"}, {"phone", "+79001234567"}}}};
    std::vector<PurchaseOutcome> seen{adapter.issue(context(), document.dump())};
    if (twice) seen.push_back(adapter.issue(context(), document.dump()));
    follow(adapter, seen, while_in);
    return seen;
  }

  /// Polls the purchase of `seen` (issue_poll) while it is in one of `while_in`, for at most 15 s.
  static void follow(InsurerAdapter& adapter, std::vector<PurchaseOutcome>& seen,
                     std::initializer_list<PurchaseOutcome::Kind> while_in) {
    auto until = std::chrono::steady_clock::now() + 15s;
    auto in = [&](PurchaseOutcome::Kind k) { return std::find(while_in.begin(), while_in.end(), k) != while_in.end(); };
    while (in(seen.back().kind) && !seen.back().external_id.empty() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(200ms);
      seen.push_back(adapter.issuePoll(context(), seen.back().external_id));
    }
  }

  /// A call of the kit's, with a minute to its deadline.
  static CallContext context() {
    return CallContext{"conformance-" + newUuid().substr(0, 8), std::chrono::system_clock::now() + 60s, {}};
  }

  std::shared_ptr<InsurerAdapter> adapter(std::chrono::milliseconds call_timeout) {
    CompanyConfig c = company_;
    c.call_timeout = call_timeout;
    return std::make_shared<InsurerAdapter>(c, lib_);
  }

  /// Submits, then polls until the answer is final or 15 s passed.
  std::vector<PartnerOutcome> run(InsurerAdapter& adapter, const std::function<void()>& between = {}) {
    CallContext ctx{"conformance-" + newUuid().substr(0, 8), std::chrono::system_clock::now() + 30s, {}};
    std::vector<PartnerOutcome> seen{adapter.submit(ctx, quote_.dump())};
    if (between) between();
    auto until = std::chrono::steady_clock::now() + 15s;
    while (seen.back().kind == PartnerOutcome::Kind::Pending && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(200ms);
      seen.push_back(adapter.poll(ctx, seen.back().external_id));
    }
    return seen;
  }

 private:
  const ConformanceTarget& t_;
  std::shared_ptr<PluginLibrary> lib_;
  CompanyConfig company_;
  std::string insurer_;
  json quote_ = sampleQuote();
};

}  // namespace

std::vector<ScenarioResult> runConformance(const ConformanceTarget& target, json& plugin_info) {
  auto cache = std::filesystem::temp_directory_path() / ("osago-plugin-check-" + newUuid());
  auto lib = PluginLibrary::load(target.plugin_file, {cache, {}, {}, WorkerLimits{}});
  plugin_info = {{"id", lib->id()}, {"name", lib->name()}, {"version", lib->version()}, {"abiVersion", lib->abiVersion()},
                 {"sha256", lib->sha256()}};
  // The kit drives our simulator on this machine, over its plain HTTP port too.
  PartnerHttp kit_http;
  kit_http.plain_http_to_loopback = true;
  auto manifest = PluginManifest::load(target.manifest_file, kit_http);
  if (manifest.companies.empty()) throw Error(target.manifest_file + ": declares no company");
  CompanyConfig company = manifest.companies.front();
  if (!target.company_id.empty()) {
    auto it = std::find_if(manifest.companies.begin(), manifest.companies.end(),
                           [&](const CompanyConfig& c) { return c.id == target.company_id; });
    if (it == manifest.companies.end()) throw Error(target.manifest_file + ": no company '" + target.company_id + "'");
    company = *it;
  }
  company.plugin = lib->id();
  plugin_info["company"] = company.id;
  // The kit steers the simulator at simulator_url; a plugin calling some other
  // address would fail every scenario for the wrong reason (or pass one by luck).
  if (auto base = company.settings.value("baseUrl", std::string()); !base.empty() && base.rfind(target.simulator_url, 0) != 0)
    throw Error("company " + company.id + ": settings.baseUrl " + base + " is not on the simulator this check drives (" +
                target.simulator_url + "); point the manifest there (the bundled ones read OSAGO_SECRET_<COMPANY>_BASE_URL) "
                "or pass --simulator");

  Kit kit(target, lib, company);
  json original = kit.behaviour();
  auto normal = kit.adapter(company.call_timeout);
  std::vector<ScenarioResult> results;
  auto scenario = [&](const std::string& name, const json& behaviour,
                      const std::function<ScenarioResult(const std::vector<PartnerOutcome>&)>& judge,
                      InsurerAdapter& adapter, const std::function<void()>& between = {}) {
    ScenarioResult r;
    try {
      kit.setBehaviour(behaviour);
      r = judge(kit.run(adapter, between));
    } catch (const std::exception& e) {
      r.detail = std::string("error: ") + e.what();
    }
    r.name = name;
    results.push_back(r);
  };
  auto last = [](const std::vector<PartnerOutcome>& s) { return s.back(); };
  // Answers that take longer than a whole call: a partner API that holds a call until it is
  // done (potok's desired-timeout) still answers "pending" first, and the plugin must poll.
  long long later_ms = company.call_timeout.count() + 1000;

  scenario("offer", {{"mode", "normal"}, {"pendingMs", 0}, {"pendingJitterMs", 0}, {"errorRate", 0}},
           [&](const auto& s) {
             auto o = last(s);
             bool ok = o.kind == PartnerOutcome::Kind::Offer && sdk::isRublesAmount(o.offer["premium"].value("amount", ""));
             return ScenarioResult{"", ok, describe(o)};
           }, *normal);
  scenario("pending then offer", {{"mode", "normal"}, {"pendingMs", later_ms}, {"pendingJitterMs", 0}, {"errorRate", 0}},
           [&](const auto& s) {
             bool saw_pending = s.size() > 1 && s[s.size() - 2].kind == PartnerOutcome::Kind::Pending;
             auto o = last(s);
             return ScenarioResult{"", saw_pending && o.kind == PartnerOutcome::Kind::Offer,
                                   describe(o) + " after " + std::to_string(s.size() - 1) + " poll(s)"};
           }, *normal);
  scenario("decline", {{"mode", "decline"}, {"pendingMs", 0}}, [&](const auto& s) {
    auto o = last(s);
    return ScenarioResult{"", o.kind == PartnerOutcome::Kind::Declined && !o.decline_reason.empty(), describe(o)};
  }, *normal);
  scenario("server error (5xx)", {{"mode", "error"}}, [&](const auto& s) {
    auto o = last(s);
    return ScenarioResult{"", o.kind == PartnerOutcome::Kind::Failed && o.failure == FailureCode::kPartnerUnavailable && o.retryable,
                          describe(o)};
  }, *normal);
  scenario("malformed body", {{"mode", "normal"}, {"pendingMs", later_ms}}, [&](const auto& s) {
    auto o = last(s);
    return ScenarioResult{"", o.kind == PartnerOutcome::Kind::Failed && o.failure == FailureCode::kPartnerError, describe(o)};
  }, *normal, [&] { kit.setBehaviour({{"mode", "malformed"}}); });
  scenario("wrong-typed fields", {{"mode", "normal"}, {"pendingMs", later_ms}}, [&](const auto& s) {
    auto o = last(s);
    return ScenarioResult{"", o.kind == PartnerOutcome::Kind::Failed && o.failure == FailureCode::kPartnerError, describe(o)};
  }, *normal, [&] { kit.setBehaviour({{"mode", "wrong_types"}}); });
  scenario("oversized body", {{"mode", "normal"}, {"pendingMs", later_ms}}, [&](const auto& s) {
    auto o = last(s);
    return ScenarioResult{"", o.kind == PartnerOutcome::Kind::Failed && o.failure == FailureCode::kPartnerError, describe(o)};
  }, *normal, [&] { kit.setBehaviour({{"mode", "oversized"}}); });
  auto quick = kit.adapter(1500ms);
  scenario("timeout", {{"mode", "hang"}}, [&](const auto& s) {
    auto o = last(s);
    return ScenarioResult{"", o.kind == PartnerOutcome::Kind::Failed && o.failure == FailureCode::kPartnerTimeout, describe(o)};
  }, *quick);

  // Selling (ABI 1.2): only for a plugin with the purchase entries.
  using Kind = PurchaseOutcome::Kind;
  auto purchase = [&](const std::string& name, const json& behaviour,
                      const std::function<ScenarioResult(const PartnerOutcome&)>& run) {
    ScenarioResult r;
    try {
      kit.setBehaviour(behaviour);
      auto quoted = kit.run(*normal);
      if (quoted.back().kind != PartnerOutcome::Kind::Offer)
        r.detail = "no offer to buy: " + describe(quoted.back());
      else
        r = run(quoted.back());
    } catch (const std::exception& e) {
      r.detail = std::string("error: ") + e.what();
    }
    r.name = name;
    results.push_back(r);
  };
  json quick_purchase = {{"mode", "normal"}, {"pendingMs", 0}, {"pendingJitterMs", 0}, {"errorRate", 0},
                         {"purchaseCheckMs", 500}, {"issueMs", 500}};
  if (!normal->purchasable()) {
    results.push_back({"purchase", true, "not offered: the plugin has no purchase entries (ABI " + lib->abiVersion() +
                                             "); its offers show as not purchasable"});
  } else {
    purchase("purchase to policy", quick_purchase, [&](const PartnerOutcome& offered) {
      auto seen = kit.buy(*normal, offered, false, {Kind::Pending});
      auto trail = [&] {
        std::string t;
        for (const auto& o : seen) t += (t.empty() ? "" : " → ") + describe(o);
        return t;
      };
      if (seen.back().kind != Kind::Payment || seen.back().payment_url.empty() || !seen.back().expires_at)
        return ScenarioResult{"", false, "expected PAYMENT with a link and its deadline: " + trail()};
      kit.pay(seen.back().external_id);  // as the buyer would on the payment page
      Kit::follow(*normal, seen, {Kind::Payment, Kind::Paid, Kind::Pending});
      return ScenarioResult{"", seen.back().kind == Kind::Issued && !seen.back().policy_number.empty(), trail()};
    });
    purchase("purchase idempotent", quick_purchase, [&](const PartnerOutcome& offered) {
      long before = kit.stats().value("purchases", 0L);
      auto seen = kit.buy(*normal, offered, true, {});
      long made = kit.stats().value("purchases", 0L) - before;
      bool same = seen.size() == 2 && seen[0].external_id == seen[1].external_id && !seen[0].external_id.empty();
      return ScenarioResult{"", same && made == 1,
                            describe(seen[0]) + " and " + describe(seen.back()) + "; the insurer counted " +
                                std::to_string(made) + " purchase(s) (send purchaseId as its idempotency key)"};
    });
    purchase("purchase declined", quick_purchase, [&](const PartnerOutcome& offered) {
      kit.setBehaviour({{"mode", "decline"}});
      auto seen = kit.buy(*normal, offered, false, {Kind::Pending});
      return ScenarioResult{"", seen.back().kind == Kind::Declined && !seen.back().decline_reason.empty(), describe(seen.back())};
    });
  }

  kit.setBehaviour(original);
  std::error_code ec;
  std::filesystem::remove_all(cache, ec);
  return results;
}

}  // namespace osago::host
