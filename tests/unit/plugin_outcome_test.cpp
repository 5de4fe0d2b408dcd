// Plugin outcome documents and worker frames come from partner code: every
// wrong type, size or shape is an answer (PLUGIN_ERROR, ProtocolError), never
// an exception that could end a thread.
#include "plugins/insurer_adapter.hpp"
#include "plugins/worker_protocol.hpp"

#include <gtest/gtest.h>

namespace {

using osago::host::parseOutcome;
using osago::host::PartnerOutcome;
using osago::host::FailureCode;
namespace wire = osago::host::wire;

TEST(PluginOutcome, ReadsTheThreeOutcomes) {
  auto pending = parseOutcome(R"({"v":1,"outcome":"PENDING","externalId":"app-1","retryAfterMs":2000})");
  EXPECT_EQ(pending.kind, PartnerOutcome::Kind::Pending);
  EXPECT_EQ(pending.external_id, "app-1");
  EXPECT_EQ(pending.retry_after->count(), 2000);
  auto offer = parseOutcome(R"({"v":1,"outcome":"OFFER","externalId":"a","offer":{"premium":{"amount":"12371.81","currency":"RUB"}}})");
  EXPECT_EQ(offer.kind, PartnerOutcome::Kind::Offer);
  EXPECT_EQ(offer.offer["premium"]["amount"], "12371.81");
  auto declined = parseOutcome(R"({"v":1,"outcome":"DECLINED","reason":"DRIVER_TOO_YOUNG","message":"under 23"})");
  EXPECT_EQ(declined.kind, PartnerOutcome::Kind::Declined);
  EXPECT_EQ(declined.decline_reason, "DRIVER_TOO_YOUNG");
  EXPECT_EQ(parseOutcome(R"({"outcome":"DECLINED"})").decline_reason, "DECLINED") << "a reason is optional";
}

TEST(PluginOutcome, AWrongTypeAnywhereIsAPluginErrorNamingTheField) {
  struct Case {
    const char* json;
    const char* field;
  } cases[] = {
      {R"({"v":1,"outcome":"DECLINED","reason":null})", "'reason'"},
      {R"({"v":1,"outcome":5})", "'outcome'"},
      {R"({"v":1,"outcome":["OFFER"]})", "'outcome'"},
      {R"({"v":1,"outcome":"PENDING","externalId":["x"]})", "'externalId'"},
      {R"({"v":1,"outcome":"PENDING","externalId":7})", "'externalId'"},
      {R"({"v":1,"outcome":"PENDING","retryAfterMs":"soon"})", "'retryAfterMs'"},
      {R"({"v":1,"outcome":"DECLINED","message":{"text":"no"}})", "'message'"},
      {R"({"v":1,"outcome":"OFFER","offer":"cheap"})", "'offer'"},
      {R"({"v":1,"outcome":"OFFER","offer":{"premium":12371.81}})", "'offer.premium'"},
      {R"({"v":1,"outcome":"OFFER","offer":{"premium":{"amount":12371.81}}})", "'offer.premium.amount'"},
      {R"({"v":1,"outcome":"OFFER","offer":{"premium":{"amount":"-5"}}})", "'offer.premium.amount'"},
      {R"({"v":1,"outcome":"OFFER","offer":{"premium":{"amount":"1e9"}}})", "'offer.premium.amount'"},
      {R"({"v":1,"outcome":"OFFER","offer":{"premium":{"amount":"10.00","currency":"USD"}}})", "'offer.premium.currency'"},
      {R"({"v":"1","outcome":"PENDING"})", "'v'"},
      {R"({"v":1})", "'outcome'"},
  };
  for (const auto& c : cases) {
    PartnerOutcome o;
    ASSERT_NO_THROW(o = parseOutcome(c.json)) << c.json;
    EXPECT_EQ(o.kind, PartnerOutcome::Kind::Failed) << c.json;
    EXPECT_EQ(o.failure, FailureCode::kPluginError) << c.json;
    EXPECT_NE(o.message.find(c.field), std::string::npos) << c.json << " → " << o.message;
  }
}

TEST(PluginOutcome, NotJsonOrNotAnObjectOrAnUnknownOutcome) {
  for (const char* text : {"", "{", "[1,2]", "null", "\"OFFER\"", R"({"outcome":"MAYBE"})"}) {
    auto o = parseOutcome(text);
    EXPECT_EQ(o.failure, FailureCode::kPluginError) << text;
  }
  std::string deep_offer = R"({"v":1,"outcome":"OFFER","externalId":"a","offer":{"premium":{"amount":"1.00"},"x":)" +
                           std::string(100000, '[') + std::string(100000, ']') + "}}";
  EXPECT_EQ(parseOutcome(deep_offer).failure, FailureCode::kPluginError) << "nesting the host would overflow its stack writing back";
  std::string huge_id = R"({"outcome":"PENDING","externalId":")" + std::string(300, 'x') + R"("})";
  EXPECT_EQ(parseOutcome(huge_id).failure, FailureCode::kPluginError) << "an externalId longer than 256";
}

TEST(WorkerFrames, RoundTripAndRefuseWhatDoesNotFit) {
  wire::FrameWriter w(wire::Type::kDone, 42);
  w.i64(-7).str("reply").str(std::string("\0binary\xff", 8));
  const std::string& bytes = w.bytes();
  auto header = wire::parseHeader(bytes.data());
  EXPECT_EQ(header.type, wire::Type::kDone);
  EXPECT_EQ(header.call_id, 42u);
  ASSERT_EQ(header.length, bytes.size() - wire::kHeaderSize);
  wire::FrameReader r(std::string_view(bytes).substr(wire::kHeaderSize));
  EXPECT_EQ(r.i64(), -7);
  EXPECT_EQ(r.str(), "reply");
  EXPECT_EQ(r.str(), std::string("\0binary\xff", 8));
  EXPECT_TRUE(r.atEnd());
  EXPECT_THROW(r.str(), wire::ProtocolError) << "reading past the end";

  // A field length that runs past the frame, and an integer of the wrong width.
  std::string lying("\xff\xff\xff\x7f" "abc", 7);
  EXPECT_THROW(wire::FrameReader(lying).str(), wire::ProtocolError);
  std::string short_int("\x02\x00\x00\x00" "ab", 6);
  EXPECT_THROW(wire::FrameReader(short_int).i64(), wire::ProtocolError);
}

TEST(PluginOutcome, AFailureMessageIsClippedToUtf8WhereverItCameFrom) {
  // A worker's note or stderr and a partner's reply are bytes; the message is stored and published as JSON.
  auto f = PartnerOutcome::failed(FailureCode::kPluginError, "worker said: \xff\xfe" + std::string(2000, 'x'));
  EXPECT_LE(f.message.size(), 1000u);
  EXPECT_NO_THROW((void)nlohmann::json(f.message).dump()) << "not UTF-8";
  EXPECT_EQ(f.message.rfind("worker said: \xEF\xBF\xBD", 0), 0u) << f.message.substr(0, 40);
}

}  // namespace
