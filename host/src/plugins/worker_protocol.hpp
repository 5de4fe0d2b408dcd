#pragma once

// The wire format between osago-aggregator and an osago-plugin-worker process
// (docs/architecture.md, "Plugin workers"). A stream socket carries frames:
//
//   u32 payload length (little-endian) | u8 type | u64 call id | payload
//
// and a payload is a sequence of fields, each `u32 length | bytes` (integers
// as 8 little-endian bytes). Both ends treat the other as hostile: every
// length is checked against the frame, and a frame longer than the reader's
// limit is a protocol violation, not an allocation.
//
// This header is shared by the host and the worker binary and depends on the
// standard library alone.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace osago::host::wire {

enum class Type : std::uint8_t {
  // host → worker
  kInit = 1,        ///< mode ("probe" | "serve"), library path, company id, settings JSON, secrets, limits
  kCall = 2,        ///< operation ("submit" | "poll" | "issue" | "issue_poll"), correlation id, deadline (unix ms), argument, traceparent
  kHttpResult = 3,  ///< osago_status, status code, body, content type, retry-after
  // worker → host
  kReady = 10,       ///< plugin id, name, version, ABI major, ABI minor, purchasable (0 | 1)
  kLoadFailed = 11,  ///< message
  kLog = 12,         ///< level, message (call id 0: not within a call)
  kHttp = 13,        ///< method, url, header count, (name, value)…, body, timeout ms
  kDone = 14,        ///< osago_status, reply count, reply, note
  kFault = 15,       ///< signal number: the call on whose thread the worker is dying
  kDenied = 16,      ///< system call number: refused by the sandbox during the call
};

inline constexpr std::size_t kHeaderSize = 4 + 1 + 8;

/// A frame that breaks the format; the connection cannot be trusted after it.
class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Builds one frame.
class FrameWriter {
 public:
  FrameWriter(Type type, std::uint64_t call_id);
  FrameWriter& str(std::string_view s);
  FrameWriter& i64(std::int64_t v);
  /// The whole frame, header included.
  const std::string& bytes();

 private:
  std::string buf_;
};

/// Reads the fields of one frame's payload in order.
class FrameReader {
 public:
  explicit FrameReader(std::string_view payload) : rest_(payload) {}
  std::string_view str();
  std::int64_t i64();
  bool atEnd() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

struct Header {
  std::uint32_t length = 0;
  Type type = Type::kInit;
  std::uint64_t call_id = 0;
};

/// Decodes the first kHeaderSize bytes of `data`.
Header parseHeader(const char* data);

/// A frame as read from a socket.
struct Frame {
  Type type = Type::kInit;
  std::uint64_t call_id = 0;
  std::string payload;
};

/// Splits a byte stream into frames, refusing any over `max_payload`;
/// what it buffers is compacted as it goes (linear in the bytes fed).
class FrameAssembler {
 public:
  explicit FrameAssembler(std::size_t max_payload) : max_(max_payload) {}
  void feed(const char* data, std::size_t n) { buf_.append(data, n); }
  /// The next whole frame, if one is buffered. Throws ProtocolError.
  bool next(Frame& frame) {
    if (buf_.size() - pos_ < kHeaderSize) return compact(false);
    auto h = parseHeader(buf_.data() + pos_);
    if (h.length > max_)
      throw ProtocolError("frame of " + std::to_string(h.length) + " bytes is over the limit of " +
                                std::to_string(max_));
    if (buf_.size() - pos_ - kHeaderSize < h.length) return compact(false);
    frame.type = h.type;
    frame.call_id = h.call_id;
    frame.payload.assign(buf_, pos_ + kHeaderSize, h.length);
    pos_ += kHeaderSize + h.length;
    return compact(true);
  }

 private:
  bool compact(bool result) {
    if (pos_ > 0 && (pos_ == buf_.size() || pos_ > (64u << 10))) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    return result;
  }
  std::size_t max_;
  std::string buf_;
  std::size_t pos_ = 0;
};

/// Writes all of `bytes` to `fd` (retrying on EINTR and short writes); false when the peer is gone.
bool writeAll(int fd, std::string_view bytes);

/// Reads one frame from a blocking `fd`. Returns false at end of stream or on
/// an error; throws ProtocolError for a frame over `max_payload` bytes.
bool readFrame(int fd, Frame& frame, std::size_t max_payload);

}  // namespace osago::host::wire
