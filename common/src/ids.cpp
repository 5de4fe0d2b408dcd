#include <osago/common/ids.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <stdexcept>
#include <sys/random.h>

namespace osago {

namespace {

/// The kernel's CSPRNG, read 4 KiB at a time per thread: one getrandom() per
/// 256 ids instead of opening /dev/urandom for each (Poco's UUIDGenerator).
void randomBytes(std::uint8_t* out, std::size_t n) {
  thread_local std::array<std::uint8_t, 4096> pool;
  thread_local std::size_t left = 0;
  while (n > 0) {
    if (left == 0) {
      std::size_t got = 0;
      while (got < pool.size()) {
        ssize_t r = ::getrandom(pool.data() + got, pool.size() - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) throw std::runtime_error("getrandom failed");
        got += static_cast<std::size_t>(r);
      }
      left = pool.size();
    }
    std::size_t take = std::min(n, left);
    const std::uint8_t* from = pool.data() + (pool.size() - left);
    std::copy(from, from + take, out);
    std::fill(pool.data() + (pool.size() - left), pool.data() + (pool.size() - left) + take, std::uint8_t{0});
    left -= take;
    out += take;
    n -= take;
  }
}

}  // namespace

std::string newUuid() {
  std::uint8_t b[16];
  randomBytes(b, sizeof b);
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);  // version 4 (random)
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(kHex[b[i] >> 4]);
    s.push_back(kHex[b[i] & 0x0f]);
  }
  return s;
}

std::string randomHex(std::size_t bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes * 2);
  std::uint8_t b = 0;
  bool nonzero = false;
  for (std::size_t i = 0; i < bytes; ++i) {
    randomBytes(&b, 1);
    if (i + 1 == bytes && !nonzero && b == 0) b = 1;
    nonzero = nonzero || b != 0;
    s.push_back(kHex[b >> 4]);
    s.push_back(kHex[b & 0x0f]);
  }
  return s;
}

bool isCompanyId(const std::string& s) {
  return !s.empty() && s.size() <= 64 && s.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos;
}

bool isUuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

}  // namespace osago
