#include "plugins/worker_protocol.hpp"

#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace osago::host::wire {
namespace {

void putU32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t getLe(const char* p, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

bool readAll(int fd, char* data, std::size_t n) {
  while (n > 0) {
    ssize_t r = ::read(fd, data, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    data += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

}  // namespace

FrameWriter::FrameWriter(Type type, std::uint64_t call_id) {
  buf_.reserve(256);
  putU32(buf_, 0);  // the length, filled by bytes()
  buf_.push_back(static_cast<char>(type));
  for (int i = 0; i < 8; ++i) buf_.push_back(static_cast<char>((call_id >> (8 * i)) & 0xff));
}

FrameWriter& FrameWriter::str(std::string_view s) {
  putU32(buf_, static_cast<std::uint32_t>(s.size()));
  buf_.append(s.data(), s.size());
  return *this;
}

FrameWriter& FrameWriter::i64(std::int64_t v) {
  putU32(buf_, 8);
  auto u = static_cast<std::uint64_t>(v);
  for (int i = 0; i < 8; ++i) buf_.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
  return *this;
}

const std::string& FrameWriter::bytes() {
  auto length = static_cast<std::uint32_t>(buf_.size() - kHeaderSize);
  for (int i = 0; i < 4; ++i) buf_[static_cast<std::size_t>(i)] = static_cast<char>((length >> (8 * i)) & 0xff);
  return buf_;
}

std::string_view FrameReader::str() {
  if (rest_.size() < 4) throw ProtocolError("frame ends inside a field length");
  auto n = static_cast<std::size_t>(getLe(rest_.data(), 4));
  if (rest_.size() - 4 < n) throw ProtocolError("field of " + std::to_string(n) + " bytes runs past the frame");
  std::string_view s = rest_.substr(4, n);
  rest_.remove_prefix(4 + n);
  return s;
}

std::int64_t FrameReader::i64() {
  auto s = str();
  if (s.size() != 8) throw ProtocolError("integer field of " + std::to_string(s.size()) + " bytes");
  return static_cast<std::int64_t>(getLe(s.data(), 8));
}

Header parseHeader(const char* data) {
  Header h;
  h.length = static_cast<std::uint32_t>(getLe(data, 4));
  h.type = static_cast<Type>(static_cast<unsigned char>(data[4]));
  h.call_id = getLe(data + 5, 8);
  return h;
}

bool writeAll(int fd, std::string_view bytes) {
  const char* p = bytes.data();
  std::size_t n = bytes.size();
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool readFrame(int fd, Frame& frame, std::size_t max_payload) {
  char header[kHeaderSize];
  if (!readAll(fd, header, sizeof header)) return false;
  Header h = parseHeader(header);
  if (h.length > max_payload)
    throw ProtocolError("frame of " + std::to_string(h.length) + " bytes is over the limit of " +
                        std::to_string(max_payload));
  frame.type = h.type;
  frame.call_id = h.call_id;
  frame.payload.resize(h.length);
  return h.length == 0 || readAll(fd, frame.payload.data(), h.length);
}

}  // namespace osago::host::wire
