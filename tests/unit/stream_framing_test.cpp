#include "streaming/stream_framing.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <iostream>

namespace {

using osago::core::WsFrameReader;

std::string masked(std::uint8_t first, const std::string& payload) {
  const char mask[4] = {0x11, 0x22, 0x33, 0x44};
  std::string f;
  f.push_back(static_cast<char>(first));
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(0x80 | payload.size()));
  } else {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size() & 0xFF));
  }
  f.append(mask, 4);
  for (std::size_t i = 0; i < payload.size(); ++i) f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  return f;
}

TEST(StreamFraming, SseMessageAndComment) {
  EXPECT_EQ(osago::core::sseMessage("company", 7, R"({"a":1})"), "id: 7\nevent: company\ndata: {\"a\":1}\n\n");
  EXPECT_EQ(osago::core::sseComment("keep-alive"), ": keep-alive\n\n");
}

TEST(StreamFraming, AcceptKeyOfTheRfcExample) {
  EXPECT_EQ(osago::core::wsAcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(StreamFraming, ServerFramesUseTheShortestLength) {
  EXPECT_EQ(osago::core::wsFrame(osago::core::kWsText, "hi"), std::string("\x81\x02hi", 4));
  auto medium = osago::core::wsFrame(osago::core::kWsText, std::string(300, 'x'));
  EXPECT_EQ(medium.substr(0, 4), std::string("\x81\x7E\x01\x2C", 4));
  auto large = osago::core::wsFrame(osago::core::kWsText, std::string(70000, 'x'));
  EXPECT_EQ(static_cast<unsigned char>(large[1]), 127);
  EXPECT_EQ(large.size(), 70000u + 10);
  EXPECT_EQ(osago::core::wsCloseFrame(1001, "bye"), std::string("\x88\x05\x03\xE9" "bye", 7));
}

TEST(StreamFraming, ReaderUnmasksFramesSplitAcrossReads) {
  WsFrameReader reader;
  std::string bytes = masked(0x89, "ping!") + masked(0x81, std::string(200, 'y'));
  WsFrameReader::Frame frame;
  reader.feed(bytes.data(), 3);
  EXPECT_EQ(reader.next(frame), WsFrameReader::Result::NeedMore);
  reader.feed(bytes.data() + 3, bytes.size() - 3);
  ASSERT_EQ(reader.next(frame), WsFrameReader::Result::Frame);
  EXPECT_EQ(frame.opcode, osago::core::kWsPing);
  EXPECT_EQ(frame.payload, "ping!");
  ASSERT_EQ(reader.next(frame), WsFrameReader::Result::Frame);
  EXPECT_EQ(frame.payload, std::string(200, 'y'));
  EXPECT_EQ(reader.next(frame), WsFrameReader::Result::NeedMore);
}

TEST(StreamFraming, ReaderRejectsUnmaskedAndOversizedFrames) {
  WsFrameReader unmasked;
  unmasked.feed("\x81\x02hi", 4);
  WsFrameReader::Frame frame;
  EXPECT_EQ(unmasked.next(frame), WsFrameReader::Result::Error);
  EXPECT_EQ(unmasked.closeCode(), 1002);

  WsFrameReader small(100);
  std::string big = masked(0x81, std::string(300, 'z'));
  small.feed(big.data(), big.size());
  EXPECT_EQ(small.next(frame), WsFrameReader::Result::Error);
  EXPECT_EQ(small.closeCode(), 1009);
}

TEST(StreamFraming, ReaderRejectsReservedOpcodesAndA64BitLengthWithItsTopBitSet) {
  WsFrameReader::Frame frame;
  for (std::uint8_t opcode : {0x3, 0x7, 0xB, 0xF}) {
    WsFrameReader reader;
    std::string f = masked(static_cast<std::uint8_t>(0x80 | opcode), "x");
    reader.feed(f.data(), f.size());
    EXPECT_EQ(reader.next(frame), WsFrameReader::Result::Error) << int(opcode);
    EXPECT_EQ(reader.closeCode(), 1002);
  }
  WsFrameReader reader;
  const char huge[] = {'\x81', '\xFF', '\x80', 0, 0, 0, 0, 0, 0, 1};  // 2^63 + 1 bytes
  reader.feed(huge, sizeof huge);
  EXPECT_EQ(reader.next(frame), WsFrameReader::Result::Error);
  EXPECT_EQ(reader.closeCode(), 1002);
}

TEST(StreamFraming, ManyTinyFramesParseInLinearTimeAndTheBufferStaysSmall) {
  // 200,000 pings fed 64 KiB at a time (a flooding client): with the front of
  // the buffer erased after every frame this took quadratic time.
  const std::string ping = masked(0x89, "");
  std::string chunk;
  while (chunk.size() + ping.size() <= 64 * 1024) chunk += ping;
  const std::size_t per_chunk = chunk.size() / ping.size();
  WsFrameReader reader;
  WsFrameReader::Frame frame;
  std::size_t frames = 0, largest_pending = 0;
  auto start = std::chrono::steady_clock::now();
  while (frames < 200000) {
    reader.feed(chunk.data(), chunk.size());
    largest_pending = std::max(largest_pending, reader.pending());
    while (reader.next(frame) == WsFrameReader::Result::Frame) ++frames;
  }
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  std::cout << "[ framing ] " << frames << " frames in " << took.count() << " ms\n";
  EXPECT_EQ(frames % per_chunk, 0u);
  EXPECT_EQ(reader.pending(), 0u);
  EXPECT_LE(largest_pending, chunk.size());
}

}  // namespace
