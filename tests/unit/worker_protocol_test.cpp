// What a plugin worker writes, as the host reads it: the worker runs partner
// code, so every count and status it sends is bounded before it is used.
#include "plugins/plugin_worker.hpp"
#include "plugins/worker_protocol.hpp"

#include <gtest/gtest.h>

namespace {

namespace wire = osago::host::wire;

std::string payloadOf(wire::FrameWriter& w) { return w.bytes().substr(wire::kHeaderSize); }

TEST(WorkerProtocol, AStatusTheAbiDoesNotDefineIsThePluginsInternalError) {
  wire::FrameWriter w(wire::Type::kDone, 5);
  w.i64(99).i64(1).str(R"({"v":1})").str("").i64(0);
  auto done = osago::host::readDone(payloadOf(w));
  EXPECT_EQ(done.status, OSAGO_STATUS_INTERNAL);
  EXPECT_NE(done.note.find("returned status 99"), std::string::npos) << done.note;
}

TEST(WorkerProtocol, CountsAreBounded) {
  wire::FrameWriter replies(wire::Type::kDone, 5);
  replies.i64(OSAGO_STATUS_OK).i64(-4).str("").str("").i64(0);
  EXPECT_EQ(osago::host::readDone(payloadOf(replies)).replies, 0);

  wire::FrameWriter denied(wire::Type::kDone, 5);
  denied.i64(OSAGO_STATUS_OK).i64(1).str("").str("").i64(1'000'000);
  EXPECT_THROW(osago::host::readDone(payloadOf(denied)), wire::ProtocolError);

  wire::FrameWriter headers(wire::Type::kHttp, 5);
  headers.str("GET").str("https://p/").i64(65);
  EXPECT_THROW(osago::host::readHttpAsk(payloadOf(headers)), wire::ProtocolError);

  wire::FrameWriter timeout(wire::Type::kHttp, 5);
  timeout.str("GET").str("https://p/").i64(0).str("").i64(1LL << 40);
  EXPECT_EQ(osago::host::readHttpAsk(payloadOf(timeout)).timeout_ms, 600000u);

  wire::FrameWriter abi(wire::Type::kReady, 0);
  abi.str("id").str("name").str("1.0").i64(1LL << 33).i64(0);
  EXPECT_THROW(osago::host::readReady(payloadOf(abi)), wire::ProtocolError);
}

TEST(WorkerProtocol, AFrameOverTheLimitIsRefusedBeforeItIsBuffered) {
  wire::FrameAssembler frames(64);
  wire::FrameWriter big(wire::Type::kLog, 1);
  big.str(std::string(100, 'x'));
  const auto& bytes = big.bytes();
  frames.feed(bytes.data(), wire::kHeaderSize);  // the header alone says it is too long
  wire::Frame f;
  EXPECT_THROW(frames.next(f), wire::ProtocolError);

  wire::FrameAssembler ok(64);
  wire::FrameWriter small(wire::Type::kLog, 2);
  small.i64(2).str("hello");
  const auto& s = small.bytes();
  for (char c : s) ok.feed(&c, 1);
  ASSERT_TRUE(ok.next(f));
  EXPECT_EQ(f.call_id, 2u);
  wire::FrameReader r(f.payload);
  EXPECT_EQ(r.i64(), 2);
  EXPECT_EQ(r.str(), "hello");
  EXPECT_TRUE(r.atEnd());
  EXPECT_FALSE(ok.next(f));
}

}  // namespace
