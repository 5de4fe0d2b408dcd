#pragma once

#include <string>

namespace osago::logging {

/// Sends every logger's output to stderr, one line per message with time,
/// level and logger name, at `level` ("debug", "information", "warning", "error").
/// Throws osago::Error for an unknown level.
void configure(const std::string& level);

}  // namespace osago::logging
