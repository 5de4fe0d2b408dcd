// Live delivery across instances: a browser on either core-app instance gets
// every event of its request, in order, with nothing lost or doubled however
// often it reconnects — against the real binaries, PostgreSQL and Kafka.
#include "flow_helpers.hpp"

#include <osago/common/ids.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <set>
#include <thread>

namespace {

using namespace osago::testing;
using nlohmann::json;

/// What a browser ends up showing: per company its latest status, from
/// snapshots and events, and the seq it has seen last.
struct ClientView {
  long long last_seq = -1;
  std::map<std::string, std::string> status;
  bool ended = false;
  std::vector<long long> event_seqs;  // of `company` events, in arrival order

  void apply(const SseEvent& e) {
    if (e.type == "snapshot") {
      for (const auto& c : e.data["insuranceCompanies"]) status[c["companyId"]] = c["status"];
      last_seq = std::stoll(e.id);
    } else if (e.type == "company") {
      long long seq = std::stoll(e.id);
      event_seqs.push_back(seq);
      EXPECT_EQ(seq, last_seq + 1) << "a gap or a duplicate in the stream";
      status[e.data["companyId"]] = e.data["status"];
      last_seq = seq;
    } else if (e.type == "end") {
      ended = true;
    }
  }
};

std::map<std::string, std::string> storedStatuses(const json& view) {
  std::map<std::string, std::string> out;
  for (const auto& c : view["insuranceCompanies"]) out[c["companyId"]] = c["status"];
  return out;
}

TEST(Delivery, AClientOnCoreAppBSeesEveryEventOfARequestCreatedThroughCoreAppA) {
  std::string core_b = stack().secondCoreUrl();  // with the second aggregator behind it
  std::string token = login("two-instances");
  auto created = httpJson("POST", stack().coreUrl() + "/api/osago/requests", quote(), token);
  ASSERT_EQ(created.status, 201) << created.body.dump();
  std::string id = created.body["osagoRequestId"];
  ClientView view;
  auto [status, events] = readEventStream(core_b + "/api/osago/requests/" + id + "/stream", token,
                                          std::chrono::seconds(TestStack::kDeadlineSeconds + 15));
  ASSERT_EQ(status, 200);
  for (const auto& e : events) view.apply(e);
  EXPECT_TRUE(view.ended) << "the stream on instance B did not reach its end";
  json stored = waitFinal(id);
  EXPECT_EQ(view.last_seq, stored["lastSeq"].get<long long>());
  EXPECT_EQ(view.status, storedStatuses(stored)) << "instance B's client shows what is stored";
}

TEST(Delivery, RandomDisconnectsAndReconnectsToEitherInstanceEndWithTheFullSequence) {
  std::vector<std::string> cores{stack().coreUrl(), stack().secondCoreUrl()};
  std::string token = login("reconnecting");
  auto created = httpJson("POST", cores[1] + "/api/osago/requests", quote(), token);
  ASSERT_EQ(created.status, 201) << created.body.dump();
  std::string id = created.body["osagoRequestId"];
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> instance(0, 1), stay_ms(150, 1200);
  ClientView view;
  int connections = 0;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(TestStack::kDeadlineSeconds + 20);
  while (!view.ended && std::chrono::steady_clock::now() < until) {
    std::string last = view.last_seq >= 0 ? std::to_string(view.last_seq) : "";
    auto [status, events] = readEventStream(cores[static_cast<std::size_t>(instance(rng))] + "/api/osago/requests/" +
                                                id + "/stream",
                                            token, std::chrono::milliseconds(stay_ms(rng)), last);
    ASSERT_EQ(status, 200);
    ++connections;
    for (const auto& e : events) view.apply(e);
  }
  EXPECT_TRUE(view.ended);
  EXPECT_GT(connections, 2) << "the test did not actually reconnect";
  json stored = waitFinal(id);
  EXPECT_EQ(view.last_seq, stored["lastSeq"].get<long long>());
  EXPECT_EQ(view.status, storedStatuses(stored));
  std::set<long long> unique(view.event_seqs.begin(), view.event_seqs.end());
  EXPECT_EQ(unique.size(), view.event_seqs.size()) << "an event was delivered twice";
}

TEST(Delivery, KafkaStoppedForThirtySecondsLosesNoEventAndPublishesNoneTwice) {
  const char* stop = std::getenv("OSAGO_TEST_KAFKA_STOP");
  const char* start = std::getenv("OSAGO_TEST_KAFKA_START");
  if (!stop || !start) GTEST_SKIP() << "run through ./osago test, which says how to stop and start its Kafka";
  std::string token = login("kafka-outage");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto created = httpJson("POST", stack().coreUrl() + "/api/osago/requests", quote(), token);
    ASSERT_EQ(created.status, 201) << created.body.dump();
    ids.push_back(created.body["osagoRequestId"]);
  }
  auto stopped_at = std::chrono::steady_clock::now();
  ASSERT_EQ(std::system(stop), 0) << stop;
  // The requests go on and finish meanwhile; their events wait in the outbox.
  for (const auto& id : ids) waitFinal(id);
  std::string in_list = "'" + ids[0] + "','" + ids[1] + "','" + ids[2] + "'";
  auto waiting = std::stoi(stack().query("SELECT count(*) FROM outbox_events WHERE published_at IS NULL AND request_id IN (" +
                                         in_list + ")")[0]);
  EXPECT_GT(waiting, 0) << "with Kafka down, events must wait in the outbox";
  std::this_thread::sleep_until(stopped_at + std::chrono::seconds(30));
  ASSERT_EQ(std::system(start), 0) << start;

  // Afterwards every event of every request is on the topic, each once.
  for (const auto& id : ids) {
    long long last_seq = waitFinal(id)["lastSeq"];
    auto events = readKafkaEvents(stack().kafkaBrokers(), stack().topic(), id, static_cast<std::size_t>(last_seq),
                                  std::chrono::seconds(60));
    std::set<long long> seqs;
    std::set<std::string> event_ids;
    for (const auto& e : events) {
      seqs.insert(e["seq"].get<long long>());
      event_ids.insert(e["eventId"].get<std::string>());
    }
    EXPECT_EQ(static_cast<long long>(seqs.size()), last_seq) << "request " << id << ": an event was lost";
    EXPECT_EQ(seqs.empty() ? 0 : *seqs.rbegin(), last_seq);
    EXPECT_EQ(events.size(), event_ids.size()) << "request " << id << ": an event was published twice";
    EXPECT_EQ(static_cast<long long>(events.size()), last_seq);
  }
  EXPECT_EQ(stack().query("SELECT count(*) FROM outbox_events WHERE published_at IS NULL AND request_id IN (" + in_list +
                          ")")[0],
            "0");
  // And core-app delivers again: a new request's events arrive on its stream.
  auto after = httpJson("POST", stack().coreUrl() + "/api/osago/requests", quote(), token);
  ASSERT_EQ(after.status, 201);
  ClientView view;
  auto [status, events] = readEventStream(stack().coreUrl() + "/api/osago/requests/" +
                                              after.body["osagoRequestId"].get<std::string>() + "/stream",
                                          token, std::chrono::seconds(TestStack::kDeadlineSeconds + 15));
  EXPECT_EQ(status, 200);
  for (const auto& e : events) view.apply(e);
  EXPECT_TRUE(view.ended);
  EXPECT_FALSE(view.event_seqs.empty()) << "only snapshots: no live event came through Kafka after the restart";
}

}  // namespace
