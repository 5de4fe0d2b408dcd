// Strict UTF-8: what the JSON writers accept, and clipping that never cuts a character.
#include <osago/common/utf8.hpp>

#include <gtest/gtest.h>

namespace {

namespace utf8 = osago::utf8;

TEST(Utf8, DecodesWhatAJsonWriterAcceptsAndNothingElse) {
  EXPECT_EQ(utf8::decode("Иванов"), std::u32string(U"Иванов"));
  EXPECT_EQ(utf8::decode("\xF0\x9F\x9A\x97"), std::u32string(U"\U0001F697"));
  for (const char* bad : {"\xC0\x80",           // overlong NUL
                          "\xE0\x80\xAF",       // overlong '/'
                          "\xED\xA0\x80",       // a surrogate
                          "\xF4\x90\x80\x80",   // past U+10FFFF
                          "\xD0",               // cut short
                          "\x80", "\xFF", "\xD0\x41"})
    EXPECT_FALSE(utf8::decode(bad)) << testing::PrintToString(std::string(bad));
  EXPECT_FALSE(utf8::valid("ok\xED\xBF\xBF"));
  EXPECT_TRUE(utf8::valid(""));
  EXPECT_EQ(utf8::encode(*utf8::decode("А123ВЕ777")), "А123ВЕ777");
}

TEST(Utf8, ClipNeverCutsACharacterAndReplacesBadBytes) {
  EXPECT_EQ(utf8::clip("ЖЖЖ", 5), "ЖЖ") << "a cut inside the third letter drops it whole";
  EXPECT_EQ(utf8::clip("ЖЖЖ", 6), "ЖЖЖ");
  EXPECT_EQ(utf8::clip("a\xFFz", 100), "a\xEF\xBF\xBDz");
  EXPECT_TRUE(utf8::valid(utf8::clip("\xED\xA0\x80\xC0\x80 tail", 8)));
  EXPECT_EQ(utf8::clip("abc", 0), "");
}

}  // namespace
