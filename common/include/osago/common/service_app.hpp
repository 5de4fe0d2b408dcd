#pragma once

#include <Poco/Util/ServerApplication.h>

#include <chrono>
#include <functional>
#include <iostream>  // POCO_SERVER_MAIN reports to std::cerr
#include <optional>
#include <string>

namespace osago {

/// Base of every osago binary: a Poco ServerApplication with the required
/// `--config=<file>` option, `--check-config` (validate the configuration,
/// environment included, and exit) and the start-up helpers all services share.
class ServiceApplication : public Poco::Util::ServerApplication {
 protected:
  void defineOptions(Poco::Util::OptionSet& options) override;

  /// The YAML file given with --config.
  std::string configFile() const;

  /// Loads the typed configuration with `load(file)` (the file and the
  /// environment's overrides) and configures logging at the level
  /// `level_of(config)`. Returns the exit code when the binary should stop:
  /// EXIT_CONFIG on a bad configuration (after printing
  /// "<binary>: configuration error: …" to stderr), EXIT_OK after
  /// `--check-config` found it valid; nothing when the service should start.
  template <typename Config, typename Load>
  std::optional<int> loadConfig(const char* binary, Config& out, Load&& load) {
    try {
      out = load(configFile());
      if constexpr (requires { out.log_format; })
        configureLogging(out.log_level, out.log_format);
      else
        configureLogging(out.log_level, "text");
    } catch (const std::exception& e) {
      reportConfigError(binary, e);
      return EXIT_CONFIG;
    }
    if (config().hasProperty("osago.check_config")) {
      std::cout << binary << ": configuration OK (" << configFile() << " and the environment)\n";
      return EXIT_OK;
    }
    return std::nullopt;
  }

  /// Runs `step` until it stops throwing, for up to `limit` (a dependency that
  /// is still starting); then throws osago::Error naming `what`.
  static void retryWhileStarting(const std::string& what, const std::function<void()>& step,
                                 std::chrono::seconds limit = std::chrono::seconds(60));

 private:
  static void configureLogging(const std::string& level, const std::string& format);
  static void reportConfigError(const char* binary, const std::exception& e);
};

}  // namespace osago
