#pragma once

#include <osago/common/kafka_client.hpp>

#include <chrono>
#include <string>

namespace osago::kafka {

/// Creates `topic` with `partitions` partitions and the brokers' default
/// replication factor (`default.replication.factor`) if it does not exist yet
/// (an existing topic is left alone). For development and tests: production
/// topics come from the operator (a Strimzi KafkaTopic). Throws osago::Error
/// (retryable) when the brokers cannot be reached within `timeout`.
void ensureTopic(const ClientSettings& brokers, const std::string& topic, int partitions,
                 std::chrono::milliseconds timeout = std::chrono::seconds(15));

/// Throws osago::Error (retryable) unless the brokers answer within `timeout`
/// and know `topic`; the message says how to create it, or what the brokers
/// last refused (e.g. a failed authentication).
void requireTopic(const ClientSettings& brokers, const std::string& topic,
                  std::chrono::milliseconds timeout = std::chrono::seconds(15));

}  // namespace osago::kafka
