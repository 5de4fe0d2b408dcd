#pragma once

#include <chrono>
#include <string>

namespace osago::kafka {

/// Creates `topic` with `partitions` partitions if it does not exist yet
/// (an existing topic is left alone). Throws osago::Error (retryable) when the
/// brokers cannot be reached within `timeout`.
void ensureTopic(const std::string& brokers, const std::string& topic, int partitions,
                 std::chrono::milliseconds timeout = std::chrono::seconds(15));

}  // namespace osago::kafka
