// Buying an offer (docs/api.md, "Purchases") through the real binaries:
// core-app → osago-aggregator → plugin (issue, issue_poll) → insurer simulator,
// the buyer paying on the simulator's payment page, the states reaching the
// browser's stream through the outbox and Kafka; and what is refused.
#include "flow_helpers.hpp"

#include <osago/common/ids.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <functional>
#include <future>
#include <thread>

namespace {

using namespace osago::testing;
using nlohmann::json;

const json kBuyer = {{"email", "ivanov@example.ru"}, {"phone", "+7 900 123-45-67"}};

std::string purchaseUrl(const std::string& id, const std::string& company) {
  return stack().coreUrl() + "/api/osago/requests/" + id + "/offers/" + company + "/purchase";
}

/// A quote request of `user` (its own vehicle: `vin`) whose company `company` has answered; its id.
std::string quotedRequest(const std::string& token, const std::string& company, const std::string& vin) {
  json q = quote();
  q["vehicle"]["vin"] = vin;
  auto created = httpJson("POST", stack().coreUrl() + "/api/osago/requests", q, token);
  EXPECT_EQ(created.status, 201) << created.body.dump();
  std::string id = created.body.value("osagoRequestId", "");
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(TestStack::kDeadlineSeconds + 10);
  while (std::chrono::steady_clock::now() < until) {
    auto view = httpJson("GET", stack().coreUrl() + "/api/osago/requests/" + id, nullptr, token).body;
    auto c = byCompany(view["insuranceCompanies"])[company];
    if (c.value("status", "") != "IN_PROGRESS" && c.value("status", "") != "CREATED") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return id;
}

/// The company's purchase as core-app shows it, once `done` says so (or after `timeout`).
json waitPurchase(const std::string& token, const std::string& id, const std::string& company,
                  const std::function<bool(const json&)>& done, std::chrono::seconds timeout = std::chrono::seconds(30)) {
  auto until = std::chrono::steady_clock::now() + timeout;
  json purchase;
  while (std::chrono::steady_clock::now() < until) {
    auto view = httpJson("GET", stack().coreUrl() + "/api/osago/requests/" + id, nullptr, token).body;
    purchase = byCompany(view["insuranceCompanies"])[company].value("purchase", json());
    if (!purchase.is_null() && done(purchase)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return purchase;
}

bool hasStatus(const json& p, const char* status) { return p.value("status", "") == status; }

json insurerStats(const std::string& insurer) {
  return httpJson("GET", stack().simulatorUrl() + "/control/insurers/" + insurer).body["stats"];
}

/// Buys `company`'s offer for user `user` all the way: payment page, pay, policy; checks the stream tells it live.
void buyThrough(const std::string& user, const std::string& company, const std::string& vin, json behaviour = json::object()) {
  // Issued 3 s after payment: the PAID state is there to be seen even on a busy machine.
  behaviour["issueMs"] = 3000;
  ASSERT_EQ(httpJson("PUT", stack().simulatorUrl() + "/control/insurers/" + company + "/behaviour", behaviour).status, 200);
  std::string token = login(user);
  std::string id = quotedRequest(token, company, vin);
  auto view = httpJson("GET", stack().coreUrl() + "/api/osago/requests/" + id, nullptr, token).body;
  json offer = byCompany(view["insuranceCompanies"])[company];
  ASSERT_EQ(offer["status"], "COMPLETED") << offer.dump();
  EXPECT_EQ(offer["offer"]["purchasable"], true) << offer.dump();
  ASSERT_TRUE(offer["offer"]["validUntil"].is_string()) << offer.dump();
  long long seq_before = view["lastSeq"];

  auto bought = httpJson("POST", purchaseUrl(id, company), {{"buyer", kBuyer}}, token);
  ASSERT_EQ(bought.status, 201) << bought.body.dump();
  // The page opens the request's stream again after what it had shown: it stays open
  // (the request is in progress again) and tells every state of the purchase as it comes.
  auto streamed = std::async(std::launch::async, [&] {
    return readEventStream(stack().coreUrl() + "/api/osago/requests/" + id + "/stream", token, std::chrono::seconds(30),
                           std::to_string(seq_before));
  });
  EXPECT_TRUE(osago::isUuid(bought.body.value("id", ""))) << bought.body.dump();
  // Stored CREATED; the workers, woken at once, may have sent it by the time it is read back.
  EXPECT_TRUE(hasStatus(bought.body, "CREATED") || hasStatus(bought.body, "PENDING")) << bought.body.dump();
  // The same purchase again (a double click, a retry) is the same purchase.
  auto again = httpJson("POST", purchaseUrl(id, company), {{"buyer", kBuyer}}, token);
  EXPECT_EQ(again.status, 200) << again.body.dump();
  EXPECT_EQ(again.body["id"], bought.body["id"]);

  json payment = waitPurchase(token, id, company, [](const json& p) { return hasStatus(p, "PAYMENT"); });
  ASSERT_EQ(payment["status"], "PAYMENT") << payment.dump();
  std::string pay_url = payment["payment"]["url"];
  ASSERT_EQ(pay_url.rfind(stack().simulatorUrl() + "/pay/", 0), 0u) << pay_url;
  EXPECT_TRUE(payment["payment"]["expiresAt"].is_string()) << payment.dump();

  // The buyer opens the payment page and pays (the page's form posts back to it).
  auto paid = httpJson("POST", pay_url);
  ASSERT_EQ(paid.status, 303) << paid.body.dump();

  json issued = waitPurchase(token, id, company, [](const json& p) { return hasStatus(p, "ISSUED"); });
  ASSERT_EQ(issued["status"], "ISSUED") << issued.dump();
  std::string number = issued["policy"]["number"];
  EXPECT_EQ(number.rfind("ХХХ ", 0), 0u) << number;
  EXPECT_EQ(number.size(), std::string("ХХХ ").size() + 10) << number;

  // On the stream: the purchase as it stood when the stream opened (the snapshot), then
  // every later state in order, each with the next seq, then the end (the request is done again).
  auto [status, events] = streamed.get();
  ASSERT_EQ(status, 200);
  ASSERT_FALSE(events.empty());
  ASSERT_EQ(events.front().type, "snapshot");
  EXPECT_EQ(byCompany(events.front().data["insuranceCompanies"])[company]["purchase"]["id"], bought.body["id"]);
  std::vector<std::string> states;
  long long seq = std::stoll(events.front().id);
  for (const auto& e : events) {
    if (e.type == "snapshot" || e.type == "end") continue;
    EXPECT_EQ(std::stoll(e.id), seq + 1) << "the request's events, the other companies' answers among them, without a gap";
    seq = std::stoll(e.id);
    if (e.type != "purchase") continue;
    EXPECT_EQ(e.data["companyId"], company);
    states.push_back(e.data["purchase"]["status"]);
  }

  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().type, "end");
  ASSERT_FALSE(states.empty());
  EXPECT_NE(std::find(states.begin(), states.end(), "PAID"), states.end()) << "paid after the stream opened";
  EXPECT_EQ(states.back(), "ISSUED");
  EXPECT_EQ(insurerStats(company)["purchases"], 1) << "one purchase at the partner, however often it was asked";
}

TEST(Purchases, APolisNetOfferIsBoughtPaidAndIssuedLive) { buyThrough("buyer-polisnet", "severny-shchit", "XTA21099043765401"); }
TEST(Purchases, AGarantOfferIsBoughtPaidAndIssuedLive) { buyThrough("buyer-garant", "volga-garant", "XTA21099043765402"); }
TEST(Purchases, AVolnaOfferIsBoughtPaidAndIssuedLive) { buyThrough("buyer-volna", "sibir-rezerv", "XTA21099043765403"); }

TEST(Purchases, SomeoneElsesOfferIsNotFound) {
  std::string alice = login("alice-buys");
  std::string id = quotedRequest(alice, "ural-polis", "XTA21099043765404");
  std::string mallory = login("mallory");
  auto stolen = httpJson("POST", purchaseUrl(id, "ural-polis"), {{"buyer", kBuyer}}, mallory);
  EXPECT_EQ(stolen.status, 404) << stolen.body.dump();
  // Nor straight at the aggregator in another user's name.
  auto direct = aggregatorJson("POST", stack().aggregatorUrl() + "/osago/requests/" + id + "/companies/ural-polis/purchase",
                               {{"userId", "mallory"}, {"buyer", kBuyer}});
  EXPECT_EQ(direct.status, 404) << direct.body.dump();
  EXPECT_EQ(stack().query("SELECT count(*) FROM purchases WHERE request_id = '" + id + "'")[0], "0");
  // A company that is not in the request, and a request that does not exist.
  EXPECT_EQ(httpJson("POST", purchaseUrl(id, "nobody"), {{"buyer", kBuyer}}, alice).status, 409);
  EXPECT_EQ(httpJson("POST", purchaseUrl(osago::newUuid(), "ural-polis"), {{"buyer", kBuyer}}, alice).status, 404);
}

TEST(Purchases, TheBuyersContactDataIsCheckedFieldByField) {
  std::string token = login("careless-buyer");
  std::string id = quotedRequest(token, "ural-polis", "XTA21099043765405");
  auto field_errors = [&](const json& body) {
    auto r = httpJson("POST", purchaseUrl(id, "ural-polis"), body, token);
    EXPECT_EQ(r.status, 400) << body.dump() << " → " << r.body.dump();
    std::set<std::string> fields;
    for (const auto& d : r.body.value("fields", json::array())) fields.insert(d.value("field", ""));
    return fields;
  };
  EXPECT_EQ(field_errors(json::object()), std::set<std::string>{"buyer"});
  EXPECT_EQ(field_errors({{"buyer", "ivanov@example.ru"}}), std::set<std::string>{"buyer"});
  EXPECT_EQ(field_errors({{"buyer", {{"email", 42}, {"phone", "+7 900 123-45-67"}}}}), std::set<std::string>{"buyer.email"});
  EXPECT_EQ(field_errors({{"buyer", {{"email", "not an address"}, {"phone", "123"}}}}),
            (std::set<std::string>{"buyer.email", "buyer.phone"}));
  EXPECT_EQ(field_errors({{"buyer", {{"email", std::string(300, 'a') + "@example.ru"}, {"phone", "+79001234567"}}}}),
            std::set<std::string>{"buyer.email"});
  EXPECT_EQ(field_errors({{"buyer", kBuyer}, {"price", "1.00"}}), std::set<std::string>{"price"});
  EXPECT_EQ(stack().query("SELECT count(*) FROM purchases WHERE request_id = '" + id + "'")[0], "0");
}

TEST(Purchases, AnExpiredOrSupersededOfferIsRefused) {
  std::string token = login("late-buyer");
  std::string id = quotedRequest(token, "ural-polis", "XTA21099043765406");
  // Its offer's validUntil passes (purchases.offer_validity_seconds after it came).
  stack().query("UPDATE company_quotes SET offer = jsonb_set(offer, '{validUntil}', '\"2026-01-01T00:00:00.000Z\"') "
                "WHERE request_id = '" + id + "' AND company_id = 'ural-polis' RETURNING 1");
  auto late = httpJson("POST", purchaseUrl(id, "ural-polis"), {{"buyer", kBuyer}}, token);
  EXPECT_EQ(late.status, 409) << late.body.dump();
  EXPECT_EQ(late.body["error"], "OFFER_EXPIRED") << late.body.dump();

  // A newer request for the same vehicle replaces the older one's prices.
  std::string older = quotedRequest(token, "severny-shchit", "XTA21099043765407");
  std::string newer = quotedRequest(token, "severny-shchit", "XTA21099043765407");
  ASSERT_NE(older, newer);
  auto superseded = httpJson("POST", purchaseUrl(older, "severny-shchit"), {{"buyer", kBuyer}}, token);
  EXPECT_EQ(superseded.status, 409) << superseded.body.dump();
  EXPECT_EQ(superseded.body["error"], "OFFER_SUPERSEDED") << superseded.body.dump();
  EXPECT_EQ(stack().query("SELECT count(*) FROM purchases WHERE request_id IN ('" + id + "', '" + older + "')")[0], "0");

  // A declined company has nothing to buy.
  json young = quote("2006-01-10", "2024-03-01");
  young["vehicle"]["vin"] = "XTA21099043765408";
  auto created = httpJson("POST", stack().coreUrl() + "/api/osago/requests", young, token);
  ASSERT_EQ(created.status, 201);
  std::string declined_id = created.body["osagoRequestId"];
  waitFinal(declined_id);
  auto nothing = httpJson("POST", purchaseUrl(declined_id, "ural-polis"), {{"buyer", kBuyer}}, token);
  EXPECT_EQ(nothing.status, 409) << nothing.body.dump();
  EXPECT_EQ(nothing.body["error"], "NO_OFFER") << nothing.body.dump();
}

TEST(Purchases, OnePolicyPerRequest) {
  std::string token = login("greedy-buyer");
  std::string id = quotedRequest(token, "severny-shchit", "XTA21099043765409");
  waitFinal(id);
  ASSERT_EQ(httpJson("POST", purchaseUrl(id, "severny-shchit"), {{"buyer", kBuyer}}, token).status, 201);
  auto second = httpJson("POST", purchaseUrl(id, "ural-polis"), {{"buyer", kBuyer}}, token);
  EXPECT_EQ(second.status, 409) << second.body.dump();
  EXPECT_EQ(second.body["error"], "PURCHASE_EXISTS") << second.body.dump();
  // Another buyer under the same key is not the same purchase.
  auto reused = httpJson("POST", purchaseUrl(id, "severny-shchit"),
                         {{"buyer", {{"email", "other@example.ru"}, {"phone", "+79990000000"}}}}, token);
  EXPECT_EQ(reused.status, 422) << reused.body.dump();
}

TEST(Purchases, AnOfferOfAPluginBuiltBeforePurchasesIsNotPurchasable) {
  // A plain-C plugin built for ABI 1.0 (no purchase entries), serving its company normally.
  stack().installPlugin(std::string(OSAGO_TEST_FAULT_PLUGIN_DIR) + "/osago_fault_none.so", "osago_fault_none",
                        "companies:\n  - {id: stary-polis, name: \"Старый полис\"}\n");
  ASSERT_EQ(admin("POST", "/admin/plugins/rescan").status, 200);
  ASSERT_EQ(admin("POST", "/admin/plugins/fault-none/enable").status, 200);
  std::string token = login("old-plugin-buyer");
  std::string id = quotedRequest(token, "stary-polis", "XTA21099043765410");
  waitFinal(id);
  auto view = httpJson("GET", stack().coreUrl() + "/api/osago/requests/" + id, nullptr, token).body;
  json c = byCompany(view["insuranceCompanies"])["stary-polis"];
  ASSERT_EQ(c["status"], "COMPLETED") << c.dump();
  EXPECT_EQ(c["offer"]["purchasable"], false) << c.dump();
  auto refused = httpJson("POST", purchaseUrl(id, "stary-polis"), {{"buyer", kBuyer}}, token);
  EXPECT_EQ(refused.status, 409) << refused.body.dump();
  EXPECT_EQ(refused.body["error"], "NOT_PURCHASABLE") << refused.body.dump();
  // The other companies' offers of the same request can still be bought.
  EXPECT_EQ(byCompany(view["insuranceCompanies"])["severny-shchit"]["offer"]["purchasable"], true);
}

TEST(Purchases, APurchaseSurvivesAnAggregatorKilledMidWay) {
  // The partner takes its time checking: the kill lands while the purchase is PENDING there.
  ASSERT_EQ(httpJson("PUT", stack().simulatorUrl() + "/control/insurers/yuzhny-bereg/behaviour", {{"purchaseCheckMs", 4000}})
                .status,
            200);
  std::string token = login("patient-buyer");
  std::string id = quotedRequest(token, "yuzhny-bereg", "XTA21099043765411");
  ASSERT_EQ(httpJson("POST", purchaseUrl(id, "yuzhny-bereg"), {{"buyer", kBuyer}}, token).status, 201);
  json pending = waitPurchase(token, id, "yuzhny-bereg", [](const json& p) { return hasStatus(p, "PENDING"); });
  ASSERT_EQ(pending["status"], "PENDING") << pending.dump();

  stack().stopFirstAggregator(SIGKILL);
  stack().restartFirstAggregator();

  json payment = waitPurchase(token, id, "yuzhny-bereg", [](const json& p) { return hasStatus(p, "PAYMENT"); },
                              std::chrono::seconds(60));
  ASSERT_EQ(payment["status"], "PAYMENT") << payment.dump();
  ASSERT_EQ(httpJson("POST", payment["payment"]["url"].get<std::string>()).status, 303);
  json issued = waitPurchase(token, id, "yuzhny-bereg", [](const json& p) { return hasStatus(p, "ISSUED"); });
  EXPECT_EQ(issued["status"], "ISSUED") << issued.dump();
  EXPECT_EQ(insurerStats("yuzhny-bereg")["purchases"], 1) << "the partner saw one purchase, not one per instance";
  // Every state change reached the topic once, in the request's order.
  long long last_seq = aggregatorJson("GET", stack().aggregatorUrl() + "/osago/requests/" + id).body["lastSeq"];
  auto events = readKafkaEvents(stack().kafkaBrokers(), stack().topic(), id, static_cast<std::size_t>(last_seq),
                                std::chrono::seconds(30));
  std::vector<std::string> states;
  for (const auto& e : events)
    if (e.value("type", "") == "quote.purchase-status") states.push_back(e["purchase"]["status"]);
  ASSERT_FALSE(states.empty());
  EXPECT_EQ(states.front(), "CREATED");
  EXPECT_EQ(states.back(), "ISSUED");
  ASSERT_EQ(httpJson("POST", stack().simulatorUrl() + "/control/reset").status, 200);
}

TEST(Purchases, TheAsynchronousDialectQuotesAndSells) {
  // Potok's API holds a call for the `desired-timeout` it is given (at most 3 s here), then
  // answers 202 with an operation to poll: the calculation (4.5 s) and the purchase's check
  // (4 s) both outlast it, so both go through operations.
  stack().installPlugin(OSAGO_TEST_POTOK_SO, "osago_plugin_potok",
                        "companies:\n  - {id: kamskaya, name: kamskaya, settings: {baseUrl: \"" + stack().simulatorTlsUrl() +
                            "/kamskaya\", maxHoldSeconds: 3}, secrets: {apiKey: k-kama}}\n");
  ASSERT_EQ(admin("POST", "/admin/plugins/rescan").status, 200);
  ASSERT_EQ(admin("POST", "/admin/plugins/potok/enable").status, 200);
  buyThrough("buyer-potok", "kamskaya", "XTA21099043765412", {{"purchaseCheckMs", 4000}});
  auto stats = insurerStats("kamskaya");
  EXPECT_GE(stats["polls"].get<long>(), 1) << "the calculation was an operation polled: " << stats.dump();
}

}  // namespace
