// The hot paths' JSON writer: what it writes is JSON that reads back as what went in.
#include <osago/common/json_text.hpp>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <random>

namespace {

using osago::json_text::Object;

TEST(JsonText, EveryStringReadsBackAsItWasWritten) {
  std::string all;  // every byte below 0x80, the quote and the backslash among them
  for (int c = 0; c < 0x80; ++c) all += static_cast<char>(c);
  const std::string samples[] = {"", "plain", "Иванов «Ингосстрах»", "a\"b\\c/d", "\n\r\t\b\f", all, "😀 U+1F600"};
  for (const auto& s : samples) {
    std::string out;
    osago::json_text::appendString(out, s);
    EXPECT_EQ(nlohmann::json::parse(out).get<std::string>(), s) << out;
  }
  // Random valid UTF-8 (code points through nlohmann, which writes them), each read back.
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::u32string points;
    for (int i = 0, n = static_cast<int>(rng() % 12); i < n; ++i) {
      char32_t p = rng() % 4 == 0 ? rng() % 0x80 : rng() % 0x10FFFF;
      if (p >= 0xD800 && p <= 0xDFFF) p = 'x';
      points += p;
    }
    std::string s;
    for (char32_t p : points) {  // UTF-8 by hand
      if (p < 0x80) s += static_cast<char>(p);
      else if (p < 0x800) s += static_cast<char>(0xC0 | (p >> 6)), s += static_cast<char>(0x80 | (p & 0x3F));
      else if (p < 0x10000)
        s += static_cast<char>(0xE0 | (p >> 12)), s += static_cast<char>(0x80 | ((p >> 6) & 0x3F)),
            s += static_cast<char>(0x80 | (p & 0x3F));
      else
        s += static_cast<char>(0xF0 | (p >> 18)), s += static_cast<char>(0x80 | ((p >> 12) & 0x3F)),
            s += static_cast<char>(0x80 | ((p >> 6) & 0x3F)), s += static_cast<char>(0x80 | (p & 0x3F));
    }
    std::string out;
    osago::json_text::appendString(out, s);
    ASSERT_EQ(nlohmann::json::parse(out).get<std::string>(), s) << out;
  }
}

TEST(JsonText, BytesThatAreNotUtf8BecomeReplacementCharacters) {
  std::string out;
  osago::json_text::appendString(out, std::string("a\xff\xc3", 3));
  EXPECT_EQ(nlohmann::json::parse(out).get<std::string>(), "a\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(JsonText, AnObjectIsTheDocumentItsFieldsSay) {
  std::string out = "[";
  Object{out}.string("id", "q-1").number("seq", -42).raw("offer", R"({"premium":{"amount":"1.00"}})").raw("error", "null").close();
  out += ",";
  Object{out}.close();
  out += "]";
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j, nlohmann::json::parse(R"([{"id":"q-1","seq":-42,"offer":{"premium":{"amount":"1.00"}},"error":null},{}])"));
}

}  // namespace
