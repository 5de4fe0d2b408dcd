#include <osago/common/json_text.hpp>

#include <osago/common/utf8.hpp>

#include <cstdio>

namespace osago::json_text {

void appendString(std::string& out, std::string_view s) {
  if (!utf8::valid(s)) {
    appendString(out, utf8::clip(s, s.size() * 3));  // each bad byte becomes the 3-byte U+FFFD
    return;
  }
  out += '"';
  std::size_t plain = 0;  // start of the run of bytes copied as they are
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      }
    }
  }
  out.append(s.data() + plain, s.size() - plain);
  out += '"';
}

void Object::key(std::string_view k) {
  if (!first_) out_ += ',';
  first_ = false;
  appendString(out_, k);
  out_ += ':';
}

Object& Object::string(std::string_view k, std::string_view value) {
  key(k);
  appendString(out_, value);
  return *this;
}

Object& Object::number(std::string_view k, long long value) {
  key(k);
  out_ += std::to_string(value);
  return *this;
}

Object& Object::raw(std::string_view k, std::string_view json) {
  key(k);
  out_ += json;
  return *this;
}

}  // namespace osago::json_text
