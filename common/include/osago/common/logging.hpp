#pragma once

#include <Poco/Formatter.h>

#include <string>

namespace osago::logging {

/// Sends every logger's output to stderr at `level` ("debug", "information",
/// "warning", "error"), one line per message: `format` "json" (JSON Lines for
/// log collectors) or "text" (for people). Throws osago::Error for an unknown
/// level or format.
void configure(const std::string& level, const std::string& format = "text");

/// Throw osago::Error saying what is accepted when `level` / `format` is not
/// one configure() takes (the configuration readers check with these).
void checkLevel(const std::string& level);
void checkFormat(const std::string& format);

/// One JSON object per message: {"time", "level", "logger", "message"}, and
/// "correlationId" when the message starts with "[<id>] " (the services tag
/// every line about a request that way; the tag is taken out of "message").
class JsonFormatter : public Poco::Formatter {
 public:
  void format(const Poco::Message& message, std::string& text) override;
};

}  // namespace osago::logging
