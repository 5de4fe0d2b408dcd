#include <osago/common/errors.hpp>
#include <osago/common/logging.hpp>

#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Logger.h>
#include <Poco/PatternFormatter.h>

namespace osago::logging {

void configure(const std::string& level) {
  int prio = 0;
  try {
    prio = Poco::Logger::parseLevel(level);
  } catch (const Poco::Exception&) {
    throw Error("unknown log level '" + level + "': use debug, information, warning or error");
  }
  Poco::AutoPtr<Poco::PatternFormatter> formatter(new Poco::PatternFormatter("%Y-%m-%dT%H:%M:%S.%iZ %p %s: %t"));
  formatter->setProperty("times", "UTC");
  Poco::AutoPtr<Poco::ConsoleChannel> console(new Poco::ConsoleChannel);
  Poco::AutoPtr<Poco::FormattingChannel> channel(new Poco::FormattingChannel(formatter, console));
  Poco::Logger::root().setChannel(channel);
  Poco::Logger::setLevel("", prio);
}

}  // namespace osago::logging
