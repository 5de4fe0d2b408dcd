#pragma once

#include <stdexcept>
#include <string>

namespace osago {

/// Base of every exception the project throws. The message says what failed
/// and how to fix it; isRetryable() tells whether the same action may succeed later.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, bool retryable = false)
      : std::runtime_error(message), retryable_(retryable) {}
  bool isRetryable() const noexcept { return retryable_; }

 private:
  bool retryable_;
};

/// A configuration problem found at start-up: fatal, names the file and key.
class ConfigError : public Error {
 public:
  ConfigError(const std::string& file, const std::string& key, const std::string& reason)
      : Error(file + ": " + (key.empty() ? std::string() : key + ": ") + reason) {}
};

/// The most informative text of any exception: Poco's displayText() (whose
/// what() is only the class name), else what().
std::string errorText(const std::exception& e);

}  // namespace osago
