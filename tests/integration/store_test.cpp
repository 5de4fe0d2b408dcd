// The store's rules where SQL is the point, against the real PostgreSQL (and,
// for the publisher, the real Kafka broker) that ./osago test starts: each
// test in its own scratch database, so none depends on another's rows.
#include "events/kafka_event_publisher.hpp"
#include "scratch_database.hpp"
#include "store/pg.hpp"
#include "store/quote_store.hpp"

#include <osago/common/errors.hpp>
#include <osago/common/ids.hpp>
#include <osago/common/kafka_topics.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <set>
#include <thread>

namespace {

using namespace osago::host;
using namespace std::chrono_literals;

using osago::test::requiredEnv;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<osago::test::ScratchDatabase>("osago_store_");
    dsn_ = db_->dsn();
    admin_ = &db_->admin();
    pool_ = std::make_unique<pg::Pool>(dsn_, 8);
    store_ = std::make_unique<QuoteStore>(*pool_);
  }
  void TearDown() override {
    store_.reset();
    pool_.reset();
    db_.reset();
  }

  /// A request with `companies` companies (c1, c2, …), their IN_PROGRESS events in the outbox.
  std::string newRequest(int companies) {
    NewQuoteRequest r;
    r.user_id = "store-test";
    r.correlation_id = osago::newUuid();
    r.idempotency_key = osago::newUuid();
    r.input = {{"k", r.idempotency_key}};
    for (int i = 1; i <= companies; ++i) r.companies.push_back({"c" + std::to_string(i), "Company " + std::to_string(i), CompanyStatus::kInProgress, {}});
    return store_->create(r).request_id;
  }

  std::vector<long long> ids(const std::vector<OutboxEvent>& events) {
    std::vector<long long> out;
    for (const auto& e : events) out.push_back(e.id);
    return out;
  }

  std::unique_ptr<osago::test::ScratchDatabase> db_;
  pg::Connection* admin_ = nullptr;
  std::string dsn_;
  std::unique_ptr<pg::Pool> pool_;
  std::unique_ptr<QuoteStore> store_;
};

// Issue 14, defect 9: find() read the request (last_seq) and its companies in
// two statements, so a change committed between them showed company rows newer
// than the last_seq the resume rule counts from.
TEST_F(StoreTest, FindReadsTheCompaniesAndLastSeqAtOneMoment) {
  std::string id = newRequest(1);
  std::atomic<bool> writing{true};
  std::atomic<long> writes{0};
  std::thread writer([&] {
    pg::Connection c(dsn_);
    c.exec("SET synchronous_commit = off");  // as many changes as the machine allows, whatever the disk
    // Like record(): the company row and last_seq change in one statement.
    while (writing) {
      c.query("WITH q AS (UPDATE quote_requests SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq) "
              "UPDATE company_quotes SET error = jsonb_build_object('seq', (SELECT last_seq FROM q)) "
              "WHERE request_id = $1",
              id);
      ++writes;
    }
  });
  int mismatches = 0, reads = 0;
  // Reads go on until enough changes committed alongside (a busy machine
  // commits slowly), within 30 s.
  auto until = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < until && (reads < 3000 || writes < 1000)) {
    auto v = store_->find(id);
    ASSERT_TRUE(v);
    ++reads;
    const auto& error = v->companies.at(0).error;
    long long company_seq = error.is_object() ? error["seq"].get<long long>() : v->last_seq;
    if (company_seq != v->last_seq) ++mismatches;
  }
  writing = false;
  writer.join();
  ASSERT_GT(writes.load(), 100) << "the writer must have run alongside";
  EXPECT_EQ(mismatches, 0) << "of " << reads << " reads, while " << writes << " changes committed";
}

TEST_F(StoreTest, APooledConnectionKilledWhileIdleIsReopenedAndTheStatementSentAgain) {
  pg::Pool pool(dsn_, 1);
  auto pid = pool.acquire()->query("SELECT pg_backend_pid()").text(0, 0);
  admin_->query("SELECT pg_terminate_backend($1::int)", pid);  // a restart or a proxy dropping it
  std::this_thread::sleep_for(200ms);
  auto again = pool.acquire()->query("SELECT pg_backend_pid()");
  EXPECT_NE(again.text(0, 0), pid) << "a new session served the statement";
}

TEST_F(StoreTest, EveryRoundTripIsBoundedOnBothSides) {
  pg::Settings s;
  s.statement_timeout = 300ms;
  s.lock_timeout = 300ms;
  pg::Connection server_side(dsn_, s);
  try {
    server_side.query("SELECT pg_sleep(3)");
    ADD_FAILURE() << "the server's statement timeout did not end it";
  } catch (const pg::Error& e) {
    EXPECT_EQ(e.sqlstate(), "57014") << e.what();
    EXPECT_TRUE(e.unavailable()) << "a timeout is worth trying again later";
  }
  EXPECT_TRUE(server_side.usable()) << "the session goes on after the server ended a statement";

  pg::Connection client_side(dsn_, pg::Settings::forMigrations());  // no server-side limit
  auto started = std::chrono::steady_clock::now();
  try {
    client_side.exec("SELECT pg_sleep(5)", {}, 300ms);
    ADD_FAILURE() << "no answer came and nothing ended the wait";
  } catch (const pg::Error& e) {
    EXPECT_TRUE(e.unavailable()) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_FALSE(client_side.usable()) << "a connection that gave up is not used again";
  EXPECT_THROW(client_side.query("SELECT 1"), pg::Error);
}

/// The test Kafka's plaintext listener, or `env`'s.
osago::kafka::ClientSettings testBrokers(const char* env = "OSAGO_TEST_KAFKA_BROKERS") {
  osago::kafka::ClientSettings s;
  s.brokers = requiredEnv(env);
  return s;
}

// Issue 14, defect 2: the relay held the outbox rows locked, in an open
// transaction, across the whole wait for Kafka.
TEST_F(StoreTest, TheOutboxClaimIsCommittedBeforeKafkaIsAsked) {
  newRequest(3);
  auto claimed = store_->claimOutbox("instance-a", 10, 30s);
  ASSERT_EQ(claimed.size(), 3u);
  pg::Connection other(dsn_);
  pg::Transaction tx(other);
  EXPECT_NO_THROW(other.exec("SET LOCAL lock_timeout = '100ms'"));
  auto locked = other.query("SELECT id FROM outbox_events WHERE published_at IS NULL FOR UPDATE NOWAIT");
  EXPECT_EQ(locked.rows(), 3) << "no row stays locked while the events are with Kafka";
  auto idle = other.query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                          "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()");
  EXPECT_EQ(idle.int64(0, 0), 0) << "no connection waits inside a transaction";
  auto owners = other.query("SELECT DISTINCT claimed_by FROM outbox_events");
  ASSERT_EQ(owners.rows(), 1);
  EXPECT_EQ(owners.text(0, 0), "instance-a");
}

TEST_F(StoreTest, AnotherInstanceSkipsClaimedEventsUntilTheClaimLapses) {
  newRequest(2);
  ASSERT_EQ(store_->claimOutbox("instance-a", 10, 1s).size(), 2u);
  EXPECT_TRUE(store_->claimOutbox("instance-b", 10, 30s).empty()) << "held by instance-a";
  std::this_thread::sleep_for(1200ms);  // instance-a died: its claim lapses
  EXPECT_EQ(store_->claimOutbox("instance-b", 10, 30s).size(), 2u);
  EXPECT_TRUE(store_->claimOutbox("instance-a", 10, 30s).empty());
}

TEST_F(StoreTest, AnEventWaitsWhileAnEarlierOneOfItsRequestIsClaimedElsewhere) {
  std::string first = newRequest(2);   // events 1, 2
  std::string second = newRequest(1);  // event 3
  auto a = store_->claimOutbox("instance-a", 1, 30s);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].request_id, first);
  auto b = store_->claimOutbox("instance-b", 10, 30s);
  ASSERT_EQ(b.size(), 1u) << "the first request's second event waits for its first";
  EXPECT_EQ(b[0].request_id, second);
  store_->markPublished(ids(a));
  auto later = store_->claimOutbox("instance-b", 10, 30s);
  ASSERT_EQ(later.size(), 1u) << "once the first is published, the second may go";
  EXPECT_EQ(later[0].request_id, first);
  EXPECT_GT(later[0].id, a[0].id);
}

TEST_F(StoreTest, PublishedEventsAreDoneAndUnsentOnesComeBackAtOnce) {
  newRequest(3);
  auto claimed = store_->claimOutbox("instance-a", 10, 30s);
  ASSERT_EQ(claimed.size(), 3u);
  EXPECT_EQ(store_->markPublished({claimed[0].id, claimed[1].id}), 2u);
  EXPECT_EQ(store_->markPublished({claimed[0].id}), 0u) << "marking twice changes nothing";
  EXPECT_EQ(store_->releaseOutbox("instance-b", {claimed[2].id}), 0u) << "only the claim's owner gives it back";
  EXPECT_EQ(store_->releaseOutbox("instance-a", {claimed[2].id}), 1u);
  auto again = store_->claimOutbox("instance-b", 10, 30s);
  ASSERT_EQ(again.size(), 1u) << "given back: claimed again without waiting for the lease";
  EXPECT_EQ(again[0].id, claimed[2].id);
  auto backlog = store_->outboxBacklog();
  EXPECT_EQ(backlog.events, 1);
  EXPECT_GE(backlog.oldest_age_seconds, 0);
  EXPECT_LT(backlog.oldest_age_seconds, 600) << "the event was written by this test";
}

// Issue 14, defect 2: a delivery report that came after publish() returned
// pointed into that call's dead vector and was counted for the next batch.
TEST_F(StoreTest, ALateDeliveryReportIsNotCountedForALaterBatch) {
  osago::kafka::ClientSettings brokers = testBrokers();
  osago::kafka::ensureTopic(brokers, "osago.store-test", 1);
  KafkaEventPublisher publisher(brokers, "osago.store-test");
  std::vector<OutboxEvent> first, second;
  for (long long i = 1; i <= 50; ++i) first.push_back({i, osago::newUuid(), R"({"n":)" + std::to_string(i) + "}"});
  for (long long i = 1001; i <= 1003; ++i) second.push_back({i, osago::newUuid(), R"({"n":)" + std::to_string(i) + "}"});
  // The first call does not wait for its reports at all: they all come late,
  // while the next call of the same producer waits for its own.
  auto early = publisher.publish(first, 0ms);
  EXPECT_LT(early.size(), first.size()) << "the reports had no time to come";
  auto acked = publisher.publish(second);
  for (long long id : acked) EXPECT_GE(id, 1001) << "event " << id << " is not of this batch";
  EXPECT_EQ(std::set<long long>(acked.begin(), acked.end()), (std::set<long long>{1001, 1002, 1003}));
}

// Issue 14, defect 6: both services created the topic at start-up with one
// replica. Now only a service told so (kafka.create_topic) creates it, with the
// brokers' default replication; asking about a topic never creates it.
TEST(KafkaTopic, AMissingTopicIsNamedWithHowToCreateItAndNotCreatedByAsking) {
  osago::kafka::ClientSettings brokers = testBrokers();
  std::string topic = "osago.missing-" + osago::newUuid().substr(0, 8);
  for (int i = 0; i < 2; ++i) {
    try {
      osago::kafka::requireTopic(brokers, topic, 5s);
      ADD_FAILURE() << "a topic nobody created exists: " << topic;
    } catch (const osago::Error& e) {
      EXPECT_NE(std::string(e.what()).find("'" + topic + "' does not exist"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("kafka.create_topic"), std::string::npos) << e.what();
    }
  }
  osago::kafka::ensureTopic(brokers, topic, 2);
  EXPECT_NO_THROW(osago::kafka::requireTopic(brokers, topic, 5s));
}

// Issue 15: the services reach Kafka over mutual TLS as their own users, each
// allowed only what it needs (packaging/dev/stack.sh start_kafka, the same ACLs
// as the production KafkaUsers). A client certificate of another CA gets no
// connection; core-app's user cannot publish, so a compromised core-app cannot
// forge the events other instances show as offers.
osago::kafka::ClientSettings tlsClient(const std::string& user) {
  const std::string dir = requiredEnv("OSAGO_TEST_KAFKA_TLS_DIR");
  osago::kafka::ClientSettings s = testBrokers("OSAGO_TEST_KAFKA_TLS_BROKERS");
  s.security = osago::kafka::ClientSettings::Security::kSsl;
  s.ca_file = dir + "/ca.pem";
  s.client_cert = dir + "/kafka-" + user + ".pem";
  s.client_key = dir + "/kafka-" + user + "-key.pem";
  return s;
}

TEST(KafkaTls, OnlyTheAggregatorsUserPublishesQuoteEvents) {
  const std::string topic = "osago.tls-test-" + osago::newUuid().substr(0, 8);
  osago::kafka::ensureTopic(testBrokers(), topic, 1);
  std::vector<OutboxEvent> events;
  for (long long i = 1; i <= 3; ++i) events.push_back({i, osago::newUuid(), R"({"n":)" + std::to_string(i) + "}"});

  EXPECT_NO_THROW(osago::kafka::requireTopic(tlsClient("osago-aggregator"), topic, 10s));
  KafkaEventPublisher aggregator(tlsClient("osago-aggregator"), topic);
  auto acked = aggregator.publish(events);
  EXPECT_EQ(std::set<long long>(acked.begin(), acked.end()), (std::set<long long>{1, 2, 3})) << "over mutual TLS";
  EXPECT_TRUE(aggregator.brokerReachable(5s));

  // core-app's user sees the topic (it reads it) but the broker refuses its writes.
  EXPECT_NO_THROW(osago::kafka::requireTopic(tlsClient("osago-core-app"), topic, 10s));
  KafkaEventPublisher forger(tlsClient("osago-core-app"), topic, 3s, 5s);
  EXPECT_TRUE(forger.publish(events).empty()) << "core-app's user published events";
}

TEST(KafkaTls, ACertificateOfAnotherCaGetsNoConnectionAndTheErrorSaysWhy) {
  try {
    osago::kafka::requireTopic(tlsClient("rogue"), "osago.quote-events", 5s);
    ADD_FAILURE() << "a client certificate of an unknown CA was let in";
  } catch (const osago::Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("did not answer"), std::string::npos) << what;
    EXPECT_NE(what.find("ssl with the certificate"), std::string::npos) << what;
    EXPECT_NE(what.find("last error:"), std::string::npos) << "the broker's refusal is named: " << what;
  }
  // A broker whose certificate is not of the CA given is refused by the client as well.
  auto wrong_ca = tlsClient("osago-aggregator");
  wrong_ca.ca_file = requiredEnv("OSAGO_TEST_KAFKA_TLS_DIR") + "/rogue-ca.pem";
  try {
    osago::kafka::requireTopic(wrong_ca, "osago.quote-events", 5s);
    ADD_FAILURE() << "a broker certificate of another CA was trusted";
  } catch (const osago::Error& e) {
    EXPECT_NE(std::string(e.what()).find("certificate verify failed"), std::string::npos) << e.what();
  }
}

}  // namespace
