// W3C Trace Context (traceparent, level 1): one trace id from the browser's
// request through core-app and the aggregator to the partner's HTTP request,
// on every log line and event about the quote (docs/operations.md#following-one-quote).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace osago {

struct TraceContext {
  std::string trace_id;   ///< 32 lower-case hex digits, not all zero
  std::string parent_id;  ///< 16 lower-case hex digits, not all zero: the span that sent it
  bool sampled = false;   ///< the trace-flags' sampled bit

  /// A `traceparent` header as it came from outside: version 00 exactly
  /// ("00-<trace>-<parent>-<flags>"), or a later version's first four fields
  /// (the spec's rule for versions it does not know). Nothing when it is
  /// malformed, all zeros or version ff: the caller starts a trace of its own.
  static std::optional<TraceContext> parse(std::string_view traceparent);
  /// A new trace, with its first span.
  static TraceContext fresh();
  /// The same trace from a new span of this service (what it sends on).
  TraceContext child() const;
  /// `traceparent` of an incoming header, else a new trace: what a service works under.
  static TraceContext continueOrStart(std::string_view traceparent);
  /// The `traceparent` header value: "00-<trace_id>-<parent_id>-<flags>".
  std::string header() const;
};

/// The log tag of a quote's lines: "[<correlationId>] ", or with its trace
/// "[<correlationId>|<traceId>] " (the JSON log format splits it into fields).
std::string logTag(const std::string& correlation_id, const std::string& trace_id = {});

/// Whether `s` is a trace id (32 lower-case hex digits, not all zero).
bool isTraceId(std::string_view s);

}  // namespace osago
