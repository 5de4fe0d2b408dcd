// What a browser (or anyone) sends on a WebSocket: the reader of client frames.
// Two properties on every input: (1) the input as a byte stream, fed in chunks
// whose sizes the input chooses, yields only frames the protocol allows
// (known opcodes, control frames of at most 125 bytes, data up to the limit)
// and never holds more than one unfinished frame; (2) the input as a frame's
// payload, masked as a client masks it and fed a few bytes at a time, comes
// back as exactly that frame.
#include "fuzz_support.hpp"

#include "streaming/stream_framing.hpp"

using osago::core::WsFrameReader;

namespace {

constexpr std::size_t kMaxPayload = 4096;  // small, so that the limit is reached

std::string clientFrame(std::uint8_t opcode, std::string_view payload, const std::uint8_t mask[4]) {
  std::string f;
  f.push_back(static_cast<char>(0x80 | opcode));
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(0x80 | payload.size()));
  } else if (payload.size() <= 0xFFFF) {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size() & 0xFF));
  } else {
    f.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((static_cast<std::uint64_t>(payload.size()) >> (8 * i)) & 0xFF));
  }
  f.append(reinterpret_cast<const char*>(mask), 4);
  for (std::size_t i = 0; i < payload.size(); ++i) f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  return f;
}

void asStream(std::string_view bytes) {
  WsFrameReader reader(kMaxPayload);
  std::size_t fed = 0, step = bytes.empty() ? 1 : 1 + static_cast<std::uint8_t>(bytes[0]) % 97;
  while (fed < bytes.size()) {
    std::size_t n = std::min(step, bytes.size() - fed);
    reader.feed(bytes.data() + fed, n);
    fed += n;
    WsFrameReader::Frame frame;
    for (;;) {
      auto r = reader.next(frame);
      if (r == WsFrameReader::Result::NeedMore) break;
      if (r == WsFrameReader::Result::Error) {
        OSAGO_FUZZ_CHECK(reader.closeCode() == 1002 || reader.closeCode() == 1009, std::to_string(reader.closeCode()));
        return;
      }
      bool control = frame.opcode & 0x8;
      OSAGO_FUZZ_CHECK(frame.opcode <= 0x2 || frame.opcode == 0x8 || frame.opcode == 0x9 || frame.opcode == 0xA,
                       std::to_string(frame.opcode));
      OSAGO_FUZZ_CHECK(frame.payload.size() <= (control ? 125 : kMaxPayload), std::to_string(frame.payload.size()));
    }
    // Only an unfinished frame waits: its header and at most the payload limit.
    OSAGO_FUZZ_CHECK(reader.pending() <= 14 + kMaxPayload, std::to_string(reader.pending()) + " bytes pending");
  }
}

void roundTrip(std::string_view bytes) {
  if (bytes.size() < 5) return;
  static constexpr std::uint8_t kOpcodes[] = {0x0, 0x1, 0x2, 0x8, 0x9, 0xA};
  std::uint8_t opcode = kOpcodes[static_cast<std::uint8_t>(bytes[0]) % 6];
  const auto* mask = reinterpret_cast<const std::uint8_t*>(bytes.data() + 1);
  std::string_view payload = bytes.substr(5, (opcode & 0x8) ? 125 : kMaxPayload);
  std::string frame = clientFrame(opcode, payload, mask);
  WsFrameReader reader(kMaxPayload);
  WsFrameReader::Frame got;
  std::size_t fed = 0;
  WsFrameReader::Result r = WsFrameReader::Result::NeedMore;
  while (fed < frame.size()) {
    std::size_t n = std::min<std::size_t>(3, frame.size() - fed);
    reader.feed(frame.data() + fed, n);
    fed += n;
    r = reader.next(got);
    OSAGO_FUZZ_CHECK(r != WsFrameReader::Result::Error, "a valid frame refused with " + std::to_string(reader.closeCode()));
    if (r == WsFrameReader::Result::Frame) break;
  }
  OSAGO_FUZZ_CHECK(r == WsFrameReader::Result::Frame && fed == frame.size(), "the frame did not come out whole");
  OSAGO_FUZZ_CHECK(got.opcode == opcode && got.payload == payload, "the frame changed on the way");
  OSAGO_FUZZ_CHECK(reader.pending() == 0, std::to_string(reader.pending()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto bytes = osago::fuzz::text(data, size);
  asStream(bytes);
  roundTrip(bytes);
  return 0;
}
