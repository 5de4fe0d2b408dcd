// Load shedding against the real binaries: one aggregator instance (the
// stack's own is stopped, so no other instance takes its work) with two
// workers, flooded with creates far beyond what it can call partners for. The
// excess is refused at once with 503 OVERLOADED and Retry-After — directly and
// through core-app — while every accepted request is served to each company's
// own outcome; an accepted request sent again is answered as always; a refused
// one sent again later with the same key is created once. Behaviour is
// asserted, not timings.
#include "flow_helpers.hpp"

#include <osago/common/ids.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <mutex>
#include <thread>

namespace {

using namespace osago::testing;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kDeadlineSeconds = 20;

struct Sent {
  std::string key;
  JsonResponse answer;
  bool via_core = false;
};

bool finalStatus(const std::string& s) { return s == "COMPLETED"; }

TEST(LoadShedding, AnInstanceBeyondItsCapacityRefusesTheExcessAndServesWhatItAccepted) {
  stack().stopFirstAggregator(SIGTERM);
  std::string aggregator = stack().startExtraAggregator(
      "aggregator-at-capacity", {{"OSAGO_AGGREGATOR__QUOTES__WORKERS", "2"},
                                 {"OSAGO_QUOTE_DEADLINE_SECONDS", std::to_string(kDeadlineSeconds)},
                                 {"OSAGO_AGGREGATOR__QUOTES__ADMISSION__MAX_BACKLOG_MS", "500"}});
  std::string core = stack().startExtraCore("core-at-capacity", aggregator);

  // Four senders, one of them through core-app, until each has been refused a
  // few times (bounded in count and time).
  std::mutex mutex;
  std::vector<Sent> sent;
  std::vector<std::string> replay_problems;
  int replays_while_refused = 0;
  auto give_up = Clock::now() + std::chrono::seconds(40);
  auto sender = [&](int n) {
    bool via_core = n == 0;
    int refused = 0;
    std::string accepted_key, accepted_id;
    for (int i = 0; i < 400 && refused < 5 && Clock::now() < give_up; ++i) {
      std::string key = "flood-" + std::to_string(n) + "-" + std::to_string(i);
      JsonResponse r;
      if (via_core) {
        // Users in turn: core-app's per-user rate limit is not what this test is about.
        std::string token = stack().issueToken("flood-user-" + std::to_string(i % 20), std::chrono::seconds(600));
        r = httpJson("POST", core + "/api/osago/requests", quote(), token, {{"Idempotency-Key", key}});
      } else {
        json body = quote();
        body["userId"] = "flood-" + std::to_string(n);
        body["correlationId"] = osago::newUuid();
        r = aggregatorJson("POST", aggregator + "/osago/requests", body, {{"Idempotency-Key", key}});
      }
      if (r.status == 201 && accepted_key.empty()) {
        accepted_key = key;
        accepted_id = r.body.value("osagoRequestId", "");
      }
      if (r.status == 503) ++refused;
      if (r.status == 503 && !via_core && !accepted_key.empty()) {
        // Refused new work at this moment: a retry of accepted work is still answered.
        json again = quote();
        again["userId"] = "flood-" + std::to_string(n);
        again["correlationId"] = osago::newUuid();
        auto replay = aggregatorJson("POST", aggregator + "/osago/requests", again, {{"Idempotency-Key", accepted_key}});
        std::lock_guard lock(mutex);
        ++replays_while_refused;
        if (replay.status != 200 || replay.body.value("osagoRequestId", "") != accepted_id)
          replay_problems.push_back(std::to_string(replay.status) + " " + replay.body.dump());
      }
      std::lock_guard lock(mutex);
      sent.push_back({key, std::move(r), via_core});
    }
  };
  std::vector<std::thread> senders;
  for (int n = 0; n < 4; ++n) senders.emplace_back(sender, n);
  for (auto& t : senders) t.join();

  std::vector<std::string> accepted_ids;
  std::vector<Sent> refused;
  int refused_via_core = 0, other = 0;
  for (auto& s : sent) {
    if (s.answer.status == 201) {
      accepted_ids.push_back(s.answer.body.value("osagoRequestId", ""));
    } else if (s.answer.status == 503) {
      EXPECT_EQ(s.answer.body.value("error", ""), "OVERLOADED") << s.answer.body.dump();
      int seconds = 0;
      try {
        seconds = std::stoi(s.answer.retry_after);
      } catch (const std::exception&) {
      }
      EXPECT_GE(seconds, 1) << "Retry-After: '" << s.answer.retry_after << "'";
      EXPECT_LE(seconds, 60) << "Retry-After: '" << s.answer.retry_after << "'";
      if (s.via_core) ++refused_via_core;
      refused.push_back(s);
    } else {
      ++other;
      ADD_FAILURE() << "neither taken nor refused at capacity: " << s.answer.status << " " << s.answer.body.dump();
    }
  }
  std::cout << "[ shedding ] " << sent.size() << " creates: " << accepted_ids.size() << " accepted, " << refused.size()
            << " refused (" << refused_via_core << " through core-app), " << other << " other; " << replays_while_refused
            << " replays of accepted requests while refused, all answered 200\n";
  ASSERT_FALSE(accepted_ids.empty());
  ASSERT_FALSE(refused.empty()) << "two workers were never beyond capacity";
  EXPECT_GT(refused_via_core, 0) << "core-app passes the refusal on";
  EXPECT_TRUE(replay_problems.empty()) << replay_problems.front();

  // Every accepted request is served: each company reaches its own outcome (an
  // offer or the insurer's decline), except "slow", whose insurer never answers.
  auto until = Clock::now() + std::chrono::seconds(kDeadlineSeconds + 30);
  std::map<std::string, int> outcomes;
  for (const auto& id : accepted_ids) {
    json view;
    while (Clock::now() < until) {
      view = aggregatorJson("GET", aggregator + "/osago/requests/" + id).body;
      if (finalStatus(view.value("status", ""))) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    ASSERT_EQ(view.value("status", ""), "COMPLETED") << view.dump();
    for (const auto& c : view["insuranceCompanies"]) {
      std::string company = c.value("companyId", ""), status = c.value("status", "");
      std::string code = c.contains("error") ? c["error"].value("code", "") : "";
      ++outcomes[status + (code.empty() ? "" : "/" + code)];
      // "slow": its insurer never answers; "ghost": its plugin refused its settings, so it was never asked.
      if (company == "slow" || code == "PLUGIN_UNAVAILABLE") continue;
      bool own = status == "COMPLETED" || (status == "FAILED" && code == "DECLINED");
      EXPECT_TRUE(own) << "request " << id << " company " << company << ": " << c.dump();
    }
  }
  std::cout << "[ shedding ] outcomes of the accepted requests' companies:";
  for (const auto& [k, n] : outcomes) std::cout << " " << k << " " << n;
  std::cout << "\n";

  // Each refusal was counted; nothing of a refused request was stored.
  auto scraped = scrape(aggregator);
  EXPECT_EQ(scraped.sum("osago_quote_requests_total", {"result=\"shed\""}), static_cast<double>(refused.size()));
  EXPECT_EQ(scraped.sum("osago_quote_requests_total", {"result=\"created\""}), static_cast<double>(accepted_ids.size()));

  // With the work done, a refused request sent again with its key is created, once.
  auto direct = std::find_if(refused.begin(), refused.end(), [](const Sent& s) { return !s.via_core; });
  ASSERT_NE(direct, refused.end()) << "only core-app's creates were refused";
  const Sent& first_refused = *direct;
  std::string user = "flood-" + first_refused.key.substr(6, first_refused.key.find('-', 6) - 6);
  json body = quote();
  body["userId"] = user;
  body["correlationId"] = osago::newUuid();
  auto retried = aggregatorJson("POST", aggregator + "/osago/requests", body, {{"Idempotency-Key", first_refused.key}});
  ASSERT_EQ(retried.status, 201) << retried.body.dump();
  auto again = aggregatorJson("POST", aggregator + "/osago/requests", body, {{"Idempotency-Key", first_refused.key}});
  EXPECT_EQ(again.status, 200) << again.body.dump();
  EXPECT_EQ(again.body.value("osagoRequestId", ""), retried.body.value("osagoRequestId", ""));
}

}  // namespace
