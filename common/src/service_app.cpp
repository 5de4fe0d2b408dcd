#include <osago/common/errors.hpp>
#include <osago/common/logging.hpp>
#include <osago/common/service_app.hpp>

#include <Poco/Logger.h>

#include <iostream>
#include <thread>

namespace osago {

void ServiceApplication::defineOptions(Poco::Util::OptionSet& options) {
  ServerApplication::defineOptions(options);
  options.addOption(Poco::Util::Option("config", "c", "YAML configuration file")
                        .required(true)
                        .argument("file")
                        .binding("osago.config"));
  options.addOption(Poco::Util::Option("check-config", "", "validate the configuration (file and environment) and exit")
                        .required(false)
                        .repeatable(false)
                        .binding("osago.check_config"));
}

std::string ServiceApplication::configFile() const { return config().getString("osago.config"); }

void ServiceApplication::configureLogging(const std::string& level, const std::string& format) {
  logging::configure(level, format);
}

void ServiceApplication::reportConfigError(const char* binary, const std::exception& e) {
  std::cerr << binary << ": configuration error: " << e.what() << "\n";
}

void ServiceApplication::retryWhileStarting(const std::string& what, const std::function<void()>& step,
                                            std::chrono::seconds limit) {
  auto& log = Poco::Logger::get("startup");
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (int attempt = 1;; ++attempt) {
    try {
      step();
      return;
    } catch (const std::exception& e) {
      if (std::chrono::steady_clock::now() > deadline)
        throw Error(what + " is not usable after " + std::to_string(limit.count()) + " s: " + errorText(e), true);
      if (attempt == 1 || attempt % 10 == 0) log.warning(what + " not ready yet: " + errorText(e));
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
}

}  // namespace osago
