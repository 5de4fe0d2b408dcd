#include <osago/common/logging.hpp>
#include <osago/common/trace_context.hpp>

#include <Poco/Message.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

nlohmann::json formatted(const std::string& text, Poco::Message::Priority prio = Poco::Message::PRIO_WARNING) {
  osago::logging::JsonFormatter f;
  std::string line;
  f.format(Poco::Message("scheduler", text, prio), line);
  EXPECT_EQ(line.find('\n'), std::string::npos) << "one line per message";
  return nlohmann::json::parse(line);
}

TEST(JsonLogs, OneObjectPerLineWithTheCorrelationIdTakenOut) {
  auto j = formatted("[6f1c2d3e-1111-4222-8333-944455566677] PARTNER_TIMEOUT: no answer (will retry)");
  EXPECT_EQ(j["level"], "warning");
  EXPECT_EQ(j["logger"], "scheduler");
  EXPECT_EQ(j["correlationId"], "6f1c2d3e-1111-4222-8333-944455566677");
  EXPECT_EQ(j["message"], "PARTNER_TIMEOUT: no answer (will retry)");
  EXPECT_EQ(j["time"].get<std::string>().back(), 'Z');
}

TEST(JsonLogs, ATagWithATraceIdGivesBothFields) {
  std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  auto j = formatted(osago::logTag("6f1c2d3e-1111-4222-8333-944455566677", trace) + "submitted");
  EXPECT_EQ(j["correlationId"], "6f1c2d3e-1111-4222-8333-944455566677");
  EXPECT_EQ(j["traceId"], trace);
  EXPECT_EQ(j["message"], "submitted");
  EXPECT_FALSE(formatted(osago::logTag("c-1") + "x").contains("traceId"));
}

TEST(JsonLogs, LinesAboutNoRequestHaveNoCorrelationId) {
  auto j = formatted("[not an id] listening", Poco::Message::PRIO_INFORMATION);
  EXPECT_FALSE(j.contains("correlationId"));
  EXPECT_EQ(j["message"], "[not an id] listening");
  EXPECT_EQ(j["level"], "info");
}

TEST(JsonLogs, NewlinesQuotesAndBadBytesStayInsideTheLine) {
  auto j = formatted("partner said \"no\"\nsecond line \xff\xfe");
  EXPECT_EQ(j["message"].get<std::string>().substr(0, 29), "partner said \"no\"\nsecond line");
}

TEST(JsonLogs, UnknownFormatIsAnError) {
  EXPECT_THROW(osago::logging::configure("information", "xml"), std::exception);
}

}  // namespace
