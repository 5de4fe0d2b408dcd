// One quote travels the whole way through the real binaries: core-app →
// osago-aggregator → plugin → insurer simulator → PostgreSQL → Kafka → core-app's
// SSE stream, with the real PostgreSQL and Kafka that ./osago test starts.
#include "flow_helpers.hpp"
#include "tariff.hpp"

#include <osago/common/civil_date.hpp>
#include <osago/common/ids.hpp>
#include <osago/common/quote_input.hpp>
#include <osago/plugin_sdk/plugin.hpp>

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <algorithm>
#include <mutex>
#include <thread>

namespace {

using namespace osago::testing;
using nlohmann::json;

TEST(QuoteFlow, OffersReachTheStreamTheRestApiAndKafka) {
  std::string token = login("alice");
  json q = quote();
  auto created = httpJson("POST", stack().coreUrl() + "/api/osago/requests", q, token);
  ASSERT_EQ(created.status, 201) << created.body.dump();
  std::string id = created.body["osagoRequestId"];
  ASSERT_TRUE(osago::isUuid(id));
  ASSERT_EQ(created.body["insuranceCompanies"].size(), 8u);
  for (const auto& c : created.body["insuranceCompanies"])
    EXPECT_EQ(c["status"], c["companyId"] == "ghost" ? "FAILED" : "IN_PROGRESS") << c.dump();

  // The browser's view: a snapshot, then one event per change, then the end.
  auto [status, events] = readEventStream(stack().coreUrl() + "/api/osago/requests/" + id + "/stream", token,
                                          std::chrono::seconds(TestStack::kDeadlineSeconds + 15));
  ASSERT_EQ(status, 200);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.front().type, "snapshot");
  EXPECT_EQ(events.back().type, "end");
  EXPECT_EQ(events.back().data["reason"], "COMPLETED");
  std::map<std::string, json> streamed = byCompany(events.front().data["insuranceCompanies"]);
  long long last_seq = std::stoll(events.front().id);
  for (std::size_t i = 1; i + 1 < events.size(); ++i) {
    ASSERT_EQ(events[i].type, "company");
    EXPECT_EQ(std::stoll(events[i].id), last_seq + 1) << "stream ids are the gap-free per-request seq";
    last_seq = std::stoll(events[i].id);
    EXPECT_EQ(events[i].data["osagoRequestId"], id);
    streamed[events[i].data["companyId"]] = events[i].data;
  }
  ASSERT_EQ(streamed.size(), 8u);
  for (const auto& [company, rate] : TestStack::offeringInsurers()) {
    EXPECT_EQ(streamed[company]["status"], "COMPLETED") << streamed[company].dump();
    EXPECT_EQ(streamed[company]["offer"]["premium"]["amount"], expectedPremium(q, rate)) << company;
    EXPECT_EQ(streamed[company]["offer"]["premium"]["currency"], "RUB");
  }
  EXPECT_EQ(streamed["slow"]["status"], "TIMEOUT");
  EXPECT_EQ(streamed["ghost"]["status"], "FAILED");

  // The fallback REST view agrees.
  auto view = aggregatorJson("GET", stack().aggregatorUrl() + "/osago/requests/" + id);
  ASSERT_EQ(view.status, 200);
  EXPECT_EQ(view.body["status"], "COMPLETED");
  EXPECT_EQ(view.body["userId"], "alice");
  auto stored = byCompany(view.body["insuranceCompanies"]);
  for (const auto& [company, rate] : TestStack::offeringInsurers())
    EXPECT_EQ(stored[company]["offer"]["premium"]["amount"], expectedPremium(q, rate)) << company;
  EXPECT_EQ(stored["slow"]["error"]["code"], "DEADLINE_EXCEEDED");
  EXPECT_EQ(stored["ghost"]["error"]["code"], "PLUGIN_UNAVAILABLE");
  EXPECT_EQ(view.body["lastSeq"].get<long long>(), last_seq);

  // Kafka holds every event of the request, keyed by its id, each once, in seq order.
  auto kafka = readKafkaEvents(stack().kafkaBrokers(), stack().topic(), id, static_cast<std::size_t>(last_seq),
                               std::chrono::seconds(30));
  ASSERT_EQ(kafka.size(), static_cast<std::size_t>(last_seq));
  std::set<std::string> event_ids;
  std::set<std::string> with_offer;
  for (std::size_t i = 0; i < kafka.size(); ++i) {
    const auto& e = kafka[i];
    EXPECT_EQ(e["seq"].get<long long>(), static_cast<long long>(i + 1));
    EXPECT_EQ(e["osagoRequestId"], id);
    EXPECT_TRUE(e.contains("companyId") && e.contains("status") && e.contains("eventId")) << e.dump();
    event_ids.insert(e["eventId"].get<std::string>());
    if (e.contains("offer")) with_offer.insert(e["companyId"].get<std::string>());
  }
  EXPECT_EQ(event_ids.size(), kafka.size()) << "event ids are unique";
  EXPECT_EQ(with_offer.size(), TestStack::offeringInsurers().size());
}

TEST(QuoteFlow, ResumingAFinishedStreamGivesOnlyTheEnd) {
  std::string token = login("carol");
  auto created = httpJson("POST", stack().coreUrl() + "/api/osago/requests", quote(), token);
  ASSERT_EQ(created.status, 201);
  std::string id = created.body["osagoRequestId"];
  json final_view = waitFinal(id);
  ASSERT_EQ(final_view["status"], "COMPLETED");
  std::string last = std::to_string(final_view["lastSeq"].get<long long>());
  auto [status, events] =
      readEventStream(stack().coreUrl() + "/api/osago/requests/" + id + "/stream", token, std::chrono::seconds(10), last);
  ASSERT_EQ(status, 200);
  ASSERT_EQ(events.size(), 1u) << "nothing was missed, so nothing is replayed";
  EXPECT_EQ(events[0].type, "end");
}

TEST(QuoteFlow, YoungDriverIsDeclinedByOneInsurerOnly) {
  std::string token = login("dave");
  auto birth = osago::CivilDate::todayUtc();
  birth.year -= 20;
  auto experience = osago::CivilDate::todayUtc();
  experience.year -= 2;
  json q = quote(birth.toString(), experience.toString());
  auto created = httpJson("POST", stack().coreUrl() + "/api/osago/requests", q, token);
  ASSERT_EQ(created.status, 201) << created.body.dump();
  auto companies = byCompany(waitFinal(created.body["osagoRequestId"])["insuranceCompanies"]);
  EXPECT_EQ(companies["ural-polis"]["status"], "FAILED");
  EXPECT_EQ(companies["ural-polis"]["error"]["code"], "DECLINED");
  EXPECT_EQ(companies["ural-polis"]["error"]["reason"], "DRIVER_TOO_YOUNG");
  EXPECT_EQ(companies["severny-shchit"]["status"], "COMPLETED");
  EXPECT_EQ(companies["severny-shchit"]["offer"]["premium"]["amount"], expectedPremium(q, 650000));
}

TEST(QuoteFlow, BadInputIsRejectedFieldByFieldAndNothingIsStored) {
  std::string token = login("erin");
  auto before = stack().query("SELECT count(*) FROM quote_requests")[0];
  json q = quote();
  q["vehicle"]["vin"] = "XTA2109904376543I";
  q["drivers"][0]["licenseNumber"] = "12";
  q["policy"]["usageMonths"] = 1;
  auto r = httpJson("POST", stack().coreUrl() + "/api/osago/requests", q, token);
  ASSERT_EQ(r.status, 400) << r.body.dump();
  EXPECT_EQ(r.body["error"], "VALIDATION_FAILED");
  std::set<std::string> fields;
  for (const auto& f : r.body["fields"]) {
    fields.insert(f["field"].get<std::string>());
    EXPECT_FALSE(f["reason"].get<std::string>().empty());
  }
  EXPECT_EQ(fields, (std::set<std::string>{"vehicle.vin", "drivers[0].licenseNumber", "policy.usageMonths"}));
  EXPECT_EQ(stack().query("SELECT count(*) FROM quote_requests")[0], before);
  EXPECT_EQ(httpJson("POST", stack().coreUrl() + "/api/osago/requests", json::array(), token).status, 400);
}

TEST(QuoteFlow, UsersCannotReadOrStreamOthersRequests) {
  std::string alice = login("alice");
  std::string mallory = login("mallory");
  auto created = httpJson("POST", stack().coreUrl() + "/api/osago/requests", quote(), alice);
  ASSERT_EQ(created.status, 201);
  std::string id = created.body["osagoRequestId"];
  EXPECT_EQ(httpJson("GET", stack().coreUrl() + "/api/osago/requests/" + id, nullptr, alice).status, 200);
  auto other = httpJson("GET", stack().coreUrl() + "/api/osago/requests/" + id, nullptr, mallory);
  EXPECT_EQ(other.status, 404);
  EXPECT_FALSE(other.body.contains("insuranceCompanies"));
  EXPECT_EQ(readEventStream(stack().coreUrl() + "/api/osago/requests/" + id + "/stream", mallory, std::chrono::seconds(5))
                .first,
            404);
  EXPECT_EQ(httpJson("GET", stack().coreUrl() + "/api/osago/requests/" + id).status, 401);
  EXPECT_EQ(httpJson("GET", stack().coreUrl() + "/api/osago/requests/" + id, nullptr, alice + "x").status, 401);
  EXPECT_EQ(httpJson("POST", stack().coreUrl() + "/api/osago/requests", quote()).status, 401);
}

TEST(QuoteFlow, SameCorrelationIdReplaysAndADifferentBodyIsRefused) {
  json body = quote();
  body["userId"] = "frank";
  body["correlationId"] = "corr-" + osago::newUuid();
  auto first = aggregatorJson("POST", stack().aggregatorUrl() + "/osago/requests", body);
  auto second = aggregatorJson("POST", stack().aggregatorUrl() + "/osago/requests", body);
  ASSERT_EQ(first.status, 201) << first.body.dump();
  ASSERT_EQ(second.status, 200) << second.body.dump();
  EXPECT_EQ(first.body["osagoRequestId"], second.body["osagoRequestId"]);
  body["vehicle"]["enginePowerHp"] = 90;
  auto changed = aggregatorJson("POST", stack().aggregatorUrl() + "/osago/requests", body);
  EXPECT_EQ(changed.status, 422);
  std::string corr = body["correlationId"];
  EXPECT_EQ(stack().query("SELECT count(*) FROM quote_requests WHERE correlation_id = '" + corr + "'")[0], "1");
  EXPECT_EQ(stack().query("SELECT count(*) FROM company_quotes c JOIN quote_requests r ON r.id = c.request_id "
                         "WHERE r.correlation_id = '" + corr + "'")[0],
            "8")
      << "one round of partner work, not two";
}

TEST(QuoteFlow, AnIdempotencyKeyDeduplicatesRetriesAndConcurrentCreates) {
  // A browser retrying its submit through core-app: each try gets a new correlationId, one key.
  std::string token = login("grace");
  std::string key = "submit-" + osago::newUuid();
  auto first = httpJson("POST", stack().coreUrl() + "/api/osago/requests", quote(), token, {{"Idempotency-Key", key}});
  auto retry = httpJson("POST", stack().coreUrl() + "/api/osago/requests", quote(), token, {{"Idempotency-Key", key}});
  ASSERT_EQ(first.status, 201) << first.body.dump();
  ASSERT_EQ(retry.status, 200) << retry.body.dump();
  EXPECT_EQ(first.body["osagoRequestId"], retry.body["osagoRequestId"]);
  auto other = quote();
  other["vehicle"]["enginePowerHp"] = 90;
  EXPECT_EQ(httpJson("POST", stack().coreUrl() + "/api/osago/requests", other, token, {{"Idempotency-Key", key}}).status, 422);

  // Eight clients sending the same create at once start one round of partner calls.
  json body = quote();
  body["userId"] = "henry";
  body["correlationId"] = "corr-" + osago::newUuid();
  std::vector<std::thread> clients;
  std::mutex mutex;
  std::set<std::string> ids;
  std::vector<int> statuses;
  for (int i = 0; i < 8; ++i)
    clients.emplace_back([&] {
      auto r = aggregatorJson("POST", stack().aggregatorUrl() + "/osago/requests", body);
      std::lock_guard lock(mutex);
      statuses.push_back(r.status);
      if (r.body.contains("osagoRequestId")) ids.insert(r.body["osagoRequestId"].get<std::string>());
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 201), 1);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), 7);
  std::string corr = body["correlationId"];
  EXPECT_EQ(stack().query("SELECT count(*) FROM company_quotes c JOIN quote_requests r ON r.id = c.request_id "
                          "WHERE r.correlation_id = '" + corr + "'")[0],
            "8");
}

TEST(QuoteFlow, FinishedRequestsAreRemovedAfterTheirRetentionAndNothingElse) {
  json body = quote();
  body["userId"] = "retention-user";
  body["correlationId"] = "retention-" + osago::newUuid();
  auto old_one = aggregatorJson("POST", stack().aggregatorUrl() + "/osago/requests", body);
  json recent_body = body;
  recent_body["correlationId"] = "retention-" + osago::newUuid();
  auto recent = aggregatorJson("POST", stack().aggregatorUrl() + "/osago/requests", recent_body);
  ASSERT_EQ(old_one.status, 201);
  ASSERT_EQ(recent.status, 201);
  std::string old_id = old_one.body["osagoRequestId"], recent_id = recent.body["osagoRequestId"];
  waitFinal(old_id);
  waitFinal(recent_id);
  // Its events reach Kafka; then it is made to look finished 25 hours ago (retention: 24 h).
  auto published = [&] {
    return stack().query("SELECT count(*) FROM outbox_events WHERE request_id = '" + old_id + "' AND published_at IS NULL")[0] == "0";
  };
  for (int i = 0; i < 100 && !published(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(published());
  ASSERT_EQ(stack().query("UPDATE quote_requests SET finished_at = now() - interval '25 hours' WHERE id = '" + old_id + "' RETURNING id").size(), 1u);
  bool gone = false;
  for (int i = 0; i < 50 && !gone; ++i) {
    gone = aggregatorJson("GET", stack().aggregatorUrl() + "/osago/requests/" + old_id).status == 404;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(gone) << "the sweep (every second here) did not remove the expired request";
  EXPECT_EQ(stack().query("SELECT count(*) FROM company_quotes WHERE request_id = '" + old_id + "'")[0], "0");
  EXPECT_EQ(stack().query("SELECT count(*) FROM outbox_events WHERE request_id = '" + old_id + "'")[0], "0");
  EXPECT_EQ(aggregatorJson("GET", stack().aggregatorUrl() + "/osago/requests/" + recent_id).status, 200)
      << "a request inside its retention stays";
  // Its idempotency key went with it: the same create is a new request now, not a replay.
  auto again = aggregatorJson("POST", stack().aggregatorUrl() + "/osago/requests", body);
  EXPECT_EQ(again.status, 201);
  EXPECT_NE(again.body["osagoRequestId"], old_id);
}

TEST(QuoteFlow, UnknownRequestIs404) {
  EXPECT_EQ(aggregatorJson("GET", stack().aggregatorUrl() + "/osago/requests/" + osago::newUuid()).status, 404);
  EXPECT_EQ(aggregatorJson("GET", stack().aggregatorUrl() + "/osago/requests/not-a-uuid").status, 404);
}

}  // namespace
