#include <osago/common/errors.hpp>
#include <osago/common/logging.hpp>

#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <Poco/PatternFormatter.h>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace osago::logging {
namespace {

const char* levelName(Poco::Message::Priority p) {
  switch (p) {
    case Poco::Message::PRIO_FATAL: return "fatal";
    case Poco::Message::PRIO_CRITICAL: return "critical";
    case Poco::Message::PRIO_ERROR: return "error";
    case Poco::Message::PRIO_WARNING: return "warning";
    case Poco::Message::PRIO_NOTICE: return "notice";
    case Poco::Message::PRIO_INFORMATION: return "info";
    case Poco::Message::PRIO_DEBUG: return "debug";
    case Poco::Message::PRIO_TRACE: return "trace";
  }
  return "info";
}

bool isIdChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_' || c == '.' ||
         c == '|';
}

}  // namespace

void JsonFormatter::format(const Poco::Message& message, std::string& text) {
  nlohmann::ordered_json line;  // fields in a fixed order: time, level, logger, [correlationId, [traceId,]] message
  line["time"] = Poco::DateTimeFormatter::format(message.getTime(), "%Y-%m-%dT%H:%M:%S.%iZ");
  line["level"] = levelName(message.getPriority());
  line["logger"] = message.getSource();
  const std::string& body = message.getText();
  auto close = body.find("] ");
  if (!body.empty() && body[0] == '[' && close != std::string::npos && close > 1 && close <= 98 &&
      std::all_of(body.begin() + 1, body.begin() + static_cast<std::ptrdiff_t>(close), isIdChar)) {
    // "[correlationId] " or "[correlationId|traceId] " (osago::logTag)
    std::string tag = body.substr(1, close - 1);
    auto bar = tag.find('|');
    line["correlationId"] = tag.substr(0, bar);
    if (bar != std::string::npos) line["traceId"] = tag.substr(bar + 1);
    line["message"] = body.substr(close + 2);
  } else {
    line["message"] = body;
  }
  // Invalid UTF-8 (a partner's bytes in an error) is replaced, never allowed to break the line.
  text = line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void checkLevel(const std::string& level) {
  try {
    Poco::Logger::parseLevel(level);
  } catch (const Poco::Exception&) {
    throw Error("unknown log level '" + level + "': use debug, information, warning or error");
  }
}

void checkFormat(const std::string& format) {
  if (format != "json" && format != "text") throw Error("unknown log format '" + format + "': use json or text");
}

void configure(const std::string& level, const std::string& format) {
  checkLevel(level);
  checkFormat(format);
  Poco::AutoPtr<Poco::Formatter> formatter;
  if (format == "json") {
    formatter = new JsonFormatter;
  } else {
    auto* pattern = new Poco::PatternFormatter("%Y-%m-%dT%H:%M:%S.%iZ %p %s: %t");
    pattern->setProperty("times", "UTC");
    formatter = pattern;
  }
  Poco::AutoPtr<Poco::ConsoleChannel> console(new Poco::ConsoleChannel);
  Poco::AutoPtr<Poco::FormattingChannel> channel(new Poco::FormattingChannel(formatter, console));
  Poco::Logger::root().setChannel(channel);
  Poco::Logger::setLevel("", Poco::Logger::parseLevel(level));
}

}  // namespace osago::logging
