// A bundled plugin's mapping of its partner's answers, through the plugin's
// real ABI table and the SDK's fake host (built once per plugin: the
// definitions OSAGO_FUZZ_SETTINGS and OSAGO_FUZZ_SECRET_* name its settings).
// The input is the partner's answers, separated by lines "=====", each
// "STATUS [RETRY-AFTER]" on its first line and the body after it; the plugin
// submits a quote and polls twice, then buys the offer (issue, issue_poll),
// taking the answers in order (a 503 when they run out). Properties: every
// call returns an ABI status; an OK call's reply is an outcome document the
// host accepts (never its PLUGIN_ERROR) — a quote outcome for submit and
// poll, a purchase outcome for issue and issue_poll.
#include "fuzz_support.hpp"

#include "plugins/insurer_adapter.hpp"
#include "plugins/purchase_outcome.hpp"

#include <osago/common/quote_input.hpp>
#include <osago/plugin_testing/fake_host.hpp>

extern "C" const osago_plugin_api* osago_plugin_entry(uint16_t, uint16_t);

namespace {

using nlohmann::json;

// The quote as the host passes it (its JSON text), made once: only the
// partner's answers differ between inputs.
const std::string& quoteText() {
  static const std::string q = [] {
    auto input = json::parse(R"({
      "vehicle":{"category":"B","make":"Toyota","model":"Camry","year":2020,"enginePowerHp":150,
                 "vin":"XTA21099043765439","plate":"А123ВЕ777"},
      "owner":{"lastName":"Иванов","firstName":"Иван","middleName":"Иванович","birthDate":"1980-06-12","regionCode":"77"},
      "drivers":[{"lastName":"Иванов","firstName":"Иван","birthDate":"1980-06-12",
                  "licenseSeries":"7712","licenseNumber":"345678","experienceStartDate":"2005-05-20"}],
      "policy":{"startDate":"2026-12-15","usageMonths":12,"multidrive":false}})");
    auto v = osago::quote::validateQuoteInput(input, osago::CivilDate{2026, 11, 27});
    if (!v.ok()) std::abort();
    return v.input.dump();
  }();
  return q;
}

void check(const char* operation, const osago::testing::CallResult& r) {
  bool known = r.status >= OSAGO_STATUS_OK && r.status <= OSAGO_STATUS_TIMEOUT;
  OSAGO_FUZZ_CHECK(known, std::string(operation) + " returned " + std::to_string(r.status));
  if (r.status == OSAGO_STATUS_OK) {
    auto outcome = osago::host::parseOutcome(r.reply_text);  // the plugin's own text, as the host reads it
    bool accepted = !(outcome.kind == osago::host::PartnerOutcome::Kind::Failed &&
                      outcome.failure == osago::host::FailureCode::kPluginError);
    OSAGO_FUZZ_CHECK(accepted, std::string(operation) + ": " + r.reply_text + ": " + outcome.message);
  }
}

void checkPurchase(const char* operation, const osago::testing::CallResult& r) {
  bool known = r.status >= OSAGO_STATUS_OK && r.status <= OSAGO_STATUS_TIMEOUT;
  OSAGO_FUZZ_CHECK(known, std::string(operation) + " returned " + std::to_string(r.status));
  if (r.status == OSAGO_STATUS_OK) {
    auto outcome = osago::host::parsePurchaseOutcome(r.reply_text);
    OSAGO_FUZZ_CHECK(outcome.kind != osago::host::PurchaseOutcome::Kind::Failed,
                     std::string(operation) + ": " + r.reply_text + ": " + outcome.message);
  }
}

/// The purchase document of the offer, as the host builds it at the claim.
const nlohmann::json& purchaseDocument() {
  static const nlohmann::json doc = osago::testing::samplePurchase(json::parse(quoteText()));
  return doc;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto secrets = json::parse(OSAGO_FUZZ_SECRETS).get<std::map<std::string, std::string>>();
  static const json settings = json::parse(OSAGO_FUZZ_SETTINGS);
  osago::testing::FakeHost host(secrets);
  for (auto answer : osago::fuzz::parts(osago::fuzz::text(data, size), 8)) {
    auto eol = answer.find('\n');
    std::string_view head = answer.substr(0, eol), body = eol == std::string_view::npos ? "" : answer.substr(eol + 1);
    int status = 0;
    std::size_t i = 0;
    while (i < head.size() && i < 3 && head[i] >= '0' && head[i] <= '9') status = status * 10 + (head[i++] - '0');
    std::string retry_after(i < head.size() ? head.substr(i + 1, 32) : std::string_view());
    host.respond(status, std::string(body), retry_after);
  }
  for (int k = 0; k < 8; ++k) host.respond(503, "<html>busy</html>");
  osago::testing::PluginUnderTest plugin(osago_plugin_entry(OSAGO_PLUGIN_ABI_MAJOR, OSAGO_PLUGIN_ABI_MINOR), host,
                                         settings);
  auto submitted = plugin.submitText(quoteText());
  check("submit", submitted);
  std::string id = submitted.reply.is_object() ? submitted.reply.value("externalId", "x-1") : "x-1";
  check("poll", plugin.poll(id));
  check("poll", plugin.poll(id));
  if (plugin.purchasable()) {
    auto issued = plugin.issue(purchaseDocument());
    checkPurchase("issue", issued);
    std::string purchase = issued.reply.is_object() ? issued.reply.value("externalId", "p-1") : "p-1";
    checkPurchase("issue_poll", plugin.issuePoll(purchase));
  }
  return 0;
}
