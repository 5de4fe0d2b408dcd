// Type-checked looks at documents from outside name the first wrong field.
#include <osago/common/outside_json.hpp>

#include <gtest/gtest.h>

namespace {

using nlohmann::json;
using osago::OutsideJson;

TEST(OutsideJson, NamesTheFirstMissingOrWrongTypedField) {
  json doc = {{"id", "x"}, {"seq", 3}, {"ok", true}, {"offer", json::object()}, {"list", json::array()}};
  EXPECT_FALSE(OutsideJson(doc).string("id", true).integer("seq", true).boolean("ok").object("offer").array("list").problem());
  EXPECT_FALSE(OutsideJson(doc).string("absent").integer("absent2").problem()) << "optional fields may be missing";
  EXPECT_EQ(*OutsideJson(doc).string("absent", true).problem(), "field 'absent' is missing (a string is required)");
  EXPECT_EQ(*OutsideJson(doc).string("seq").problem(), "field 'seq' must be a string");
  EXPECT_EQ(*OutsideJson(doc).integer("id").problem(), "field 'id' must be an integer");
  EXPECT_EQ(*OutsideJson(json{{"seq", 1.5}}).integer("seq").problem(), "field 'seq' must be an integer");
  EXPECT_EQ(*OutsideJson(doc).string("id").integer("id").string("seq").problem(), "field 'id' must be an integer")
      << "the first problem is kept";
  EXPECT_EQ(*OutsideJson(json{{"id", std::string(10, 'x')}}).string("id", true, 5).problem(),
            "field 'id' is longer than 5 bytes");
  EXPECT_EQ(*OutsideJson(json::array()).string("id").problem(), "not a JSON object");
  EXPECT_EQ(*OutsideJson(json(nullptr), "drivers[2]").string("id").problem(), "'drivers[2]' must be an object");
  EXPECT_EQ(*OutsideJson(json{{"x", nullptr}}, "owner").string("x").problem(), "field 'owner.x' must be a string");
}

TEST(ParseOutside, RefusesNestingThatWouldOverflowTheStackOfWhoeverDumpsIt) {
  std::string deep = std::string(200000, '[') + std::string(200000, ']');
  EXPECT_TRUE(osago::parseOutside(deep).is_discarded());
  std::string wrapped = R"({"a":)" + std::string(65, '[') + std::string(65, ']') + "}";
  EXPECT_TRUE(osago::parseOutside(wrapped).is_discarded()) << "66 levels";
  std::string fine = R"({"a":)" + std::string(63, '[') + std::string(63, ']') + "}";
  auto doc = osago::parseOutside(fine);
  ASSERT_FALSE(doc.is_discarded()) << "64 levels";
  EXPECT_EQ(doc.dump(), fine);
  EXPECT_TRUE(osago::parseOutside("{not json").is_discarded());
}

}  // namespace
