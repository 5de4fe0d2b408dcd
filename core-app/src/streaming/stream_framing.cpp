#include "streaming/stream_framing.hpp"

#include <Poco/Base64Encoder.h>
#include <Poco/SHA1Engine.h>

#include <sstream>

namespace osago::core {

std::string sseMessage(std::string_view type, long long seq, std::string_view data) {
  std::string out;
  out.reserve(data.size() + type.size() + 40);
  out.append("id: ").append(std::to_string(seq)).append("\nevent: ").append(type).append("\ndata: ").append(data).append("\n\n");
  return out;
}

std::string sseComment(std::string_view note) {
  std::string out(": ");
  out.append(note).append("\n\n");
  return out;
}

std::string wsFrame(WsOpcode opcode, std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 10);
  out.push_back(static_cast<char>(0x80 | opcode));
  std::uint64_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(n));
  } else if (n <= 0xFFFF) {
    out.push_back(static_cast<char>(126));
    out.push_back(static_cast<char>((n >> 8) & 0xFF));
    out.push_back(static_cast<char>(n & 0xFF));
  } else {
    out.push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xFF));
  }
  out.append(payload);
  return out;
}

std::string wsCloseFrame(std::uint16_t code, std::string_view reason) {
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xFF));
  payload.append(reason.substr(0, 123));
  return wsFrame(kWsClose, payload);
}

std::string wsAcceptKey(const std::string& client_key) {
  Poco::SHA1Engine sha1;
  sha1.update(client_key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
  const auto& digest = sha1.digest();
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.write(reinterpret_cast<const char*>(digest.data()), static_cast<std::streamsize>(digest.size()));
  encoder.close();
  return out.str();
}

void WsFrameReader::feed(const char* data, std::size_t size) {
  if (at_ > 0 && at_ >= buffer_.size() - at_) {  // the parsed part is at least half: drop it (amortised linear)
    buffer_.erase(0, at_);
    at_ = 0;
  }
  buffer_.append(data, size);
}

WsFrameReader::Result WsFrameReader::next(Frame& frame) {
  const std::size_t available = buffer_.size() - at_;
  auto byte = [this](std::size_t i) { return static_cast<std::uint8_t>(buffer_[at_ + i]); };
  if (available < 2) return Result::NeedMore;
  std::uint8_t b0 = byte(0), b1 = byte(1);
  bool fin = b0 & 0x80;
  std::uint8_t opcode = b0 & 0x0F;
  auto fail = [this](std::uint16_t code) {
    close_code_ = code;
    return Result::Error;
  };
  if (b0 & 0x70) return fail(1002);           // no extensions were negotiated
  if (!(b1 & 0x80)) return fail(1002);        // a client must mask its frames
  bool known = opcode <= kWsBinary || opcode == kWsClose || opcode == kWsPing || opcode == kWsPong;
  if (!known) return fail(1002);              // reserved opcodes
  bool control = opcode & 0x8;
  if (control && (!fin || (b1 & 0x7F) > 125)) return fail(1002);
  std::size_t header = 2;
  std::uint64_t length = b1 & 0x7F;
  if (length == 126) {
    if (available < 4) return Result::NeedMore;
    length = (std::uint64_t{byte(2)} << 8) | byte(3);
    header = 4;
  } else if (length == 127) {
    if (available < 10) return Result::NeedMore;
    if (byte(2) & 0x80) return fail(1002);    // the most significant bit must be 0
    length = 0;
    for (std::size_t i = 2; i < 10; ++i) length = (length << 8) | byte(i);
    header = 10;
  }
  if (length > max_payload_) return fail(1009);
  if (available < header + 4 + length) return Result::NeedMore;
  const std::size_t mask_at = at_ + header;
  frame.opcode = opcode;
  frame.payload.assign(buffer_, mask_at + 4, static_cast<std::size_t>(length));
  for (std::size_t i = 0; i < frame.payload.size(); ++i)
    frame.payload[i] = static_cast<char>(frame.payload[i] ^ buffer_[mask_at + (i % 4)]);
  at_ += header + 4 + static_cast<std::size_t>(length);
  if (at_ == buffer_.size()) {
    buffer_.clear();
    at_ = 0;
  }
  return Result::Frame;
}

}  // namespace osago::core
