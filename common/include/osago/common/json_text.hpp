// JSON written straight into a string, for the documents the hot paths build
// by the thousand per second (a quote's first events, its company rows): no
// tree of nlohmann::json nodes to allocate, walk and free. Anything nested or
// from outside is still built and checked as nlohmann::json and added here
// already serialised (raw()).
#pragma once

#include <string>
#include <string_view>

namespace osago::json_text {

/// Appends `s` as a JSON string literal. `s` must be UTF-8; a byte that is
/// not (never expected: names and ids are checked where they come in) is
/// written as U+FFFD, as the JSON logger does, so the output is always JSON.
void appendString(std::string& out, std::string_view s);

/// One JSON object, field by field, into `out`. Keys are the caller's literals.
class Object {
 public:
  explicit Object(std::string& out) : out_(out) { out_ += '{'; }
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;

  Object& string(std::string_view key, std::string_view value);
  Object& number(std::string_view key, long long value);
  /// `json` is already serialised JSON (an object, array, number, null, ...).
  Object& raw(std::string_view key, std::string_view json);
  /// Closes the object; nothing may be added after.
  void close() { out_ += '}'; }

 private:
  void key(std::string_view k);
  std::string& out_;
  bool first_ = true;
};

}  // namespace osago::json_text
