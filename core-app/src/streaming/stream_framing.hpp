#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace osago::core {

/// Wire formats of the browser streams: Server-Sent Events and the server
/// side of WebSocket (RFC 6455). Pure functions and a parser; no I/O.

/// One SSE message: `id:` is the request's seq, `event:` its type, `data:` one line of JSON.
std::string sseMessage(std::string_view type, long long seq, std::string_view data);
/// An SSE comment line; clients ignore it, proxies see traffic.
std::string sseComment(std::string_view note);

enum WsOpcode : std::uint8_t { kWsText = 0x1, kWsBinary = 0x2, kWsClose = 0x8, kWsPing = 0x9, kWsPong = 0xA };

/// One unmasked, final frame as a server sends it.
std::string wsFrame(WsOpcode opcode, std::string_view payload);
/// A close frame with a status code (1000 normal, 1001 going away, ...).
std::string wsCloseFrame(std::uint16_t code, std::string_view reason);
/// The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key.
std::string wsAcceptKey(const std::string& client_key);

/// Reads the frames a client sends (they must be masked). Control frames are
/// at most 125 bytes; data frames at most `max_payload` bytes; an unknown
/// opcode is an error (1002). Fragmented data frames are passed through one
/// fragment at a time. Parsing moves an offset through the buffer, which is
/// compacted only when the consumed part outweighs the rest: linear however
/// small and many the frames.
class WsFrameReader {
 public:
  struct Frame {
    std::uint8_t opcode = 0;
    std::string payload;
  };
  enum class Result { Frame, NeedMore, Error };

  explicit WsFrameReader(std::size_t max_payload = 64 * 1024) : max_payload_(max_payload) {}
  void feed(const char* data, std::size_t size);
  /// Bytes received and not yet parsed into frames.
  std::size_t pending() const { return buffer_.size() - at_; }
  /// The next complete frame (unmasked) or NeedMore; Error with closeCode() when the client broke the protocol.
  Result next(Frame& frame);
  std::uint16_t closeCode() const { return close_code_; }

 private:
  std::size_t max_payload_;
  std::string buffer_;
  std::size_t at_ = 0;  ///< where the next frame starts
  std::uint16_t close_code_ = 0;
};

}  // namespace osago::core
