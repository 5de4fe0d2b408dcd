#include "streaming/stream_relay.hpp"

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using osago::core::LiveEvent;
using osago::core::StoredState;
using osago::core::StreamMessage;
using osago::core::StreamRelay;

const auto kStart = StreamRelay::Steady::time_point{} + 1000s;
const auto kWall = StreamRelay::Wall::now();

std::shared_ptr<const LiveEvent> live(long long seq, bool completes = false) {
  return LiveEvent::from({{"seq", seq}, {"requestStatus", completes ? "COMPLETED" : "IN_PROGRESS"}});
}

StoredState stored(long long last_seq, bool finished = false) {
  return *StoredState::from({{"userId", "u"}, {"lastSeq", last_seq}, {"status", finished ? "COMPLETED" : "IN_PROGRESS"}});
}

std::vector<std::string> describe(const std::vector<StreamMessage>& out) {
  std::vector<std::string> d;
  for (const auto& m : out) d.push_back(m.type.empty() ? ":" + m.data : m.type + "@" + std::to_string(m.seq));
  return d;
}

TEST(StreamRelay, SnapshotThenHeldEventsInOrderWithoutDuplicates) {
  StreamRelay relay(-1, kWall + 1h, kStart);
  std::vector<StreamMessage> out;
  relay.event(live(4), kStart, out);  // arrived while the state was being read
  relay.event(live(3), kStart, out);
  EXPECT_TRUE(out.empty());
  relay.start(stored(3), kStart, out);  // the state already contains seq 3
  EXPECT_EQ(describe(out), (std::vector<std::string>{"snapshot@3", "company@4"}));
  out.clear();
  relay.event(live(4), kStart, out);  // a copy
  relay.event(live(6), kStart, out);  // ahead of 5: held
  EXPECT_TRUE(out.empty());
  relay.event(live(5), kStart, out);
  EXPECT_EQ(describe(out), (std::vector<std::string>{"company@5", "company@6"}));
}

TEST(StreamRelay, ResumesAfterTheClientsSeqWithoutASnapshotWhenNothingWasMissed) {
  StreamRelay relay(5, kWall + 1h, kStart);
  std::vector<StreamMessage> out;
  relay.start(stored(5), kStart, out);
  EXPECT_TRUE(out.empty());
  relay.event(live(6, true), kStart, out);
  EXPECT_EQ(describe(out), (std::vector<std::string>{"company@6", "end@6"}));
  EXPECT_TRUE(relay.ended());
}

TEST(StreamRelay, AFinishedRequestEndsAtOnce) {
  StreamRelay relay(2, kWall + 1h, kStart);
  std::vector<StreamMessage> out;
  relay.start(stored(9, true), kStart, out);
  EXPECT_EQ(describe(out), (std::vector<std::string>{"snapshot@9", "end@9"}));
  EXPECT_EQ(out.back().data, R"({"reason":"COMPLETED"})");
}

TEST(StreamRelay, AGapThatDoesNotFillAsksForTheStoredStateOnce) {
  StreamRelay relay(-1, kWall + 1h, kStart);
  std::vector<StreamMessage> out;
  relay.start(stored(2), kStart, out);
  out.clear();
  relay.event(live(4), kStart, out);
  EXPECT_EQ(relay.tick(kWall, kStart + 1s, 15s, 2s, out), StreamRelay::Due::Nothing);
  EXPECT_EQ(relay.tick(kWall, kStart + 3s, 15s, 2s, out), StreamRelay::Due::Reconcile);
  EXPECT_EQ(relay.tick(kWall, kStart + 4s, 15s, 2s, out), StreamRelay::Due::Nothing);  // already asked
  relay.reconciled(stored(3), kStart + 4s, out);  // the stored state has 3: the held 4 follows
  EXPECT_EQ(describe(out), (std::vector<std::string>{"snapshot@3", "company@4", ":keep-alive"}));
}

TEST(StreamRelay, SilenceAsksForTheStateAndAFailureKeepsTheClientInformed) {
  StreamRelay relay(-1, kWall + 1h, kStart);
  std::vector<StreamMessage> out;
  relay.start(stored(1), kStart, out);
  out.clear();
  EXPECT_EQ(relay.tick(kWall, kStart + 16s, 15s, 2s, out), StreamRelay::Due::Reconcile);
  relay.reconcileFailed(kStart + 16s, out);
  EXPECT_EQ(describe(out), (std::vector<std::string>{":aggregator unavailable"}));
  EXPECT_EQ(relay.tick(kWall, kStart + 20s, 15s, 2s, out), StreamRelay::Due::Nothing);
  EXPECT_EQ(relay.tick(kWall, kStart + 32s, 15s, 2s, out), StreamRelay::Due::Reconcile);
}

TEST(StreamRelay, EndsWhenTheTokenExpires) {
  StreamRelay relay(-1, kWall + 10s, kStart);
  std::vector<StreamMessage> out;
  relay.start(stored(1), kStart, out);
  out.clear();
  EXPECT_EQ(relay.tick(kWall + 11s, kStart + 1s, 15s, 2s, out), StreamRelay::Due::Nothing);
  EXPECT_EQ(describe(out), (std::vector<std::string>{"end@1"}));
  EXPECT_EQ(out.back().data, R"({"reason":"TOKEN_EXPIRED"})");
  out.clear();
  relay.event(live(2), kStart, out);
  EXPECT_TRUE(out.empty());
}

TEST(StreamRelay, SnapshotsHideTheOwner) {
  auto state = StoredState::from({{"userId", "alice"}, {"lastSeq", 1}, {"status", "IN_PROGRESS"}});
  EXPECT_EQ(state->user_id, "alice");
  EXPECT_EQ(state->data.find("alice"), std::string::npos);
}

TEST(StreamRelay, AResumePointIsDigitsOnly) {
  using osago::core::resumeSeq;
  EXPECT_EQ(resumeSeq("0"), 0);
  EXPECT_EQ(resumeSeq("12"), 12);
  EXPECT_EQ(resumeSeq("999999999999999999"), 999999999999999999LL);
  // What std::stoll took (a sign, spaces, a tail) or could not hold: "nothing yet".
  for (const char* bad : {"", "-5", "+5", " 12", "12abc", "1e3", "0x10", "9999999999999999999", "١٢"})
    EXPECT_EQ(resumeSeq(bad), -1) << bad;
}

}  // namespace
