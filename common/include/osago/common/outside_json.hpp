#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace osago {

/// Parses a JSON document from outside, refusing one nested deeper than
/// `max_depth` (discarded, as for invalid JSON): nlohmann parses any depth,
/// but dump() and copies recurse, so a 1 MiB "[[[[…" would overflow the stack
/// of whoever writes it back out. With `why`, it says what was wrong (for an
/// answer to the sender): the parser's message, or the depth.
nlohmann::json parseOutside(std::string_view text, int max_depth = 64, std::string* why = nullptr);

/// Type-checked look at a JSON document that came from outside (a partner, an
/// event on the topic, another service's answer) before any field of it is
/// read: each check records the first problem, naming the field. With the
/// checks passed, `value()`/`get()` on those fields cannot throw.
///
///   if (auto why = OutsideJson(event).string("osagoRequestId", true).integer("seq", true).problem()) skip(*why);
class OutsideJson {
 public:
  explicit OutsideJson(const nlohmann::json& doc, std::string prefix = {});
  OutsideJson& string(const char* key, bool required = false, std::size_t max_length = 4096);
  OutsideJson& integer(const char* key, bool required = false);
  OutsideJson& boolean(const char* key, bool required = false);
  OutsideJson& object(const char* key, bool required = false);
  OutsideJson& array(const char* key, bool required = false);
  /// The first problem found ("field 'seq' must be an integer"), if any.
  const std::optional<std::string>& problem() const { return problem_; }

 private:
  const nlohmann::json* field(const char* key, bool required, const char* expected);
  void fail(const char* key, const std::string& why);
  const nlohmann::json& doc_;
  std::string prefix_;
  std::optional<std::string> problem_;
};

/// Counts a rejected document from outside in osago_rejected_documents_total{source}.
void countRejected(const std::string& source);

/// Logs at most one line a second about rejected documents of one origin,
/// with how many were rejected since the last line (a flood of bad input must
/// not become a flood of log lines). Thread-safe.
class RejectionLog {
 public:
  RejectionLog(std::string logger, std::string source) : logger_(std::move(logger)), source_(std::move(source)) {}
  /// Counts the rejection and logs `what` unless a line was written less than a second ago.
  void reject(const std::string& what);

 private:
  std::string logger_;
  std::string source_;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point last_{};
  long suppressed_ = 0;
};

}  // namespace osago
