#include <osago/common/utf8.hpp>

namespace osago::utf8 {
namespace {

constexpr char32_t kInvalid = 0xFFFFFFFF;

/// The code point that starts at s[i] and its length in `len`; kInvalid (len 1) for a bad sequence.
char32_t next(std::string_view s, std::size_t i, std::size_t& len) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = byte(0);
  len = 1;
  if (c < 0x80) return c;
  std::size_t n = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return kInvalid;
  char32_t cp = n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(k) >> 6) != 0x2) return kInvalid;
    cp = (cp << 6) | (byte(k) & 0x3F);
  }
  static constexpr char32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kSmallest[n] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return kInvalid;
  len = n;
  return cp;
}

void append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

std::optional<std::u32string> decode(std::string_view s) {
  std::u32string out;
  for (std::size_t i = 0, len = 0; i < s.size(); i += len) {
    char32_t cp = next(s, i, len);
    if (cp == kInvalid) return std::nullopt;
    out.push_back(cp);
  }
  return out;
}

std::string encode(const std::u32string& s) {
  std::string out;
  for (char32_t cp : s) append(out, cp);
  return out;
}

bool valid(std::string_view s) {
  for (std::size_t i = 0, len = 0; i < s.size(); i += len)
    if (next(s, i, len) == kInvalid) return false;
  return true;
}

std::string clip(std::string_view s, std::size_t max_bytes) {
  std::string out;
  for (std::size_t i = 0, len = 0; i < s.size(); i += len) {
    char32_t cp = next(s, i, len);
    std::string one;
    append(one, cp == kInvalid ? U'\uFFFD' : cp);
    if (out.size() + one.size() > max_bytes) break;
    out += one;
  }
  return out;
}

}  // namespace osago::utf8
