#include "streaming/stream_framing.hpp"

#include <gtest/gtest.h>

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

}  // namespace
