#include <osago/common/outside_json.hpp>

#include <osago/common/metrics.hpp>
#include <osago/common/utf8.hpp>

#include <Poco/Logger.h>

namespace osago {

nlohmann::json parseOutside(std::string_view text, int max_depth, std::string* why) {
  bool too_deep = false;
  // depth counts the levels above the value that starts: 0 for the outermost.
  nlohmann::json::parser_callback_t limit = [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (depth >= max_depth) too_deep = true;
    return !too_deep;  // once too deep, keep nothing more
  };
  const nlohmann::json discarded(nlohmann::json::value_t::discarded);
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text.begin(), text.end(), limit);
  } catch (const nlohmann::json::exception& e) {
    // parse_error, and out_of_range for a number no double holds (1e999)
    if (why) *why = utf8::clip(e.what(), 300);  // nlohmann quotes the bytes it read last, as they were
    return discarded;
  }
  if (too_deep) {
    if (why) *why = "nested deeper than " + std::to_string(max_depth) + " levels";
    return discarded;
  }
  return doc;
}

OutsideJson::OutsideJson(const nlohmann::json& doc, std::string prefix) : doc_(doc), prefix_(std::move(prefix)) {
  if (!doc_.is_object()) problem_ = prefix_.empty() ? "not a JSON object" : "'" + prefix_ + "' must be an object";
}

void OutsideJson::fail(const char* key, const std::string& why) {
  if (!problem_) problem_ = "field '" + prefix_ + (prefix_.empty() ? "" : ".") + key + "' " + why;
}

const nlohmann::json* OutsideJson::field(const char* key, bool required, const char* expected) {
  if (problem_) return nullptr;
  auto it = doc_.find(key);
  if (it == doc_.end()) {
    if (required) fail(key, std::string("is missing (") + expected + " is required)");
    return nullptr;
  }
  return &*it;
}

OutsideJson& OutsideJson::string(const char* key, bool required, std::size_t max_length) {
  if (const auto* v = field(key, required, "a string")) {
    if (!v->is_string())
      fail(key, "must be a string");
    else if (v->get_ref<const std::string&>().size() > max_length)
      fail(key, "is longer than " + std::to_string(max_length) + " bytes");
  }
  return *this;
}

OutsideJson& OutsideJson::integer(const char* key, bool required) {
  if (const auto* v = field(key, required, "an integer"); v && !v->is_number_integer()) fail(key, "must be an integer");
  return *this;
}

OutsideJson& OutsideJson::boolean(const char* key, bool required) {
  if (const auto* v = field(key, required, "true or false"); v && !v->is_boolean()) fail(key, "must be true or false");
  return *this;
}

OutsideJson& OutsideJson::object(const char* key, bool required) {
  if (const auto* v = field(key, required, "an object"); v && !v->is_object()) fail(key, "must be an object");
  return *this;
}

OutsideJson& OutsideJson::array(const char* key, bool required) {
  if (const auto* v = field(key, required, "a list"); v && !v->is_array()) fail(key, "must be a list");
  return *this;
}

void countRejected(const std::string& source) {
  static auto& rejected = metrics::counter("osago_rejected_documents_total",
                                           "Documents from outside rejected as malformed, by source (plugin_outcome, "
                                           "kafka_event, aggregator_answer, client_info_answer, service_token)");
  rejected.Add({{"source", source}}).Increment();
}

void RejectionLog::reject(const std::string& what) {
  countRejected(source_);
  auto now = std::chrono::steady_clock::now();
  long suppressed = 0;
  {
    std::lock_guard lock(mutex_);
    if (now - last_ < std::chrono::seconds(1)) {
      ++suppressed_;
      return;
    }
    last_ = now;
    suppressed = suppressed_;
    suppressed_ = 0;
  }
  Poco::Logger::get(logger_).warning(what + (suppressed ? " (and " + std::to_string(suppressed) +
                                                              " more rejected since the last such line)"
                                                        : std::string()));
}

}  // namespace osago
