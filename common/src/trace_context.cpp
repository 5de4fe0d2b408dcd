#include <osago/common/trace_context.hpp>

#include <osago/common/ids.hpp>

#include <algorithm>

namespace osago {
namespace {

bool lowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool allZero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

}  // namespace

bool isTraceId(std::string_view s) { return s.size() == 32 && lowerHex(s) && !allZero(s); }

std::optional<TraceContext> TraceContext::parse(std::string_view h) {
  // version "-" trace-id "-" parent-id "-" flags: 2+1+32+1+16+1+2 = 55 characters.
  if (h.size() < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-') return std::nullopt;
  std::string_view version = h.substr(0, 2), trace = h.substr(3, 32), parent = h.substr(36, 16), flags = h.substr(53, 2);
  if (!lowerHex(version) || version == "ff" || !lowerHex(flags)) return std::nullopt;
  if (version == "00" && h.size() != 55) return std::nullopt;
  if (version != "00" && h.size() > 55 && h[55] != '-') return std::nullopt;
  if (!isTraceId(trace) || parent.size() != 16 || !lowerHex(parent) || allZero(parent)) return std::nullopt;
  int f = std::stoi(std::string(flags), nullptr, 16);
  return TraceContext{std::string(trace), std::string(parent), (f & 1) != 0};
}

TraceContext TraceContext::fresh() { return TraceContext{randomHex(16), randomHex(8), true}; }

TraceContext TraceContext::child() const { return TraceContext{trace_id, randomHex(8), sampled}; }

TraceContext TraceContext::continueOrStart(std::string_view traceparent) {
  auto incoming = parse(traceparent);
  return incoming ? incoming->child() : fresh();
}

std::string TraceContext::header() const { return "00-" + trace_id + "-" + parent_id + (sampled ? "-01" : "-00"); }

std::string logTag(const std::string& correlation_id, const std::string& trace_id) {
  return trace_id.empty() ? "[" + correlation_id + "] " : "[" + correlation_id + "|" + trace_id + "] ";
}

}  // namespace osago
