#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <set>
#include <string>
#include <vector>

namespace osago::testing {

/// One Server-Sent Event as a browser's EventSource would see it.
struct SseEvent {
  std::string id;
  std::string type;
  nlohmann::json data;
  std::chrono::system_clock::time_point received{};  ///< when its last line arrived (SSE only)
};

/// An HTTP exchange with a JSON body (or none).
struct JsonResponse {
  int status = 0;
  nlohmann::json body;
  std::string retry_after;  ///< the Retry-After header, if any
};

JsonResponse httpJson(const std::string& method, const std::string& url, const nlohmann::json& body = nullptr,
                      const std::string& bearer = {}, const std::vector<std::pair<std::string, std::string>>& headers = {});

/// Opens `url` as an event stream and reads events until an `end` event, the
/// server closing, or `timeout`. Returns the HTTP status and the events.
std::pair<int, std::vector<SseEvent>> readEventStream(const std::string& url, const std::string& bearer,
                                                      std::chrono::milliseconds timeout, const std::string& last_event_id = {});

/// Reads a request's WebSocket (`url` ends in /ws, with ?fromSeq=N to resume)
/// until its "end" message or `timeout`; messages as SseEvent (id = seq).
/// The HTTP status of a refused upgrade, else 101.
std::pair<int, std::vector<SseEvent>> readWebSocket(const std::string& url, const std::string& bearer,
                                                    std::chrono::milliseconds timeout);

/// Every message of `topic` whose key is `key`, read from the beginning until
/// `expected` were found or `timeout` passed.
std::vector<nlohmann::json> readKafkaEvents(const std::string& brokers, const std::string& topic,
                                            const std::string& key, std::size_t expected, std::chrono::seconds timeout);

/// Every message of `topic` whose key is one of `keys`, read from the beginning
/// until `expected` distinct (key, seq) pairs were seen or `timeout` passed.
std::vector<nlohmann::json> readKafkaTopic(const std::string& brokers, const std::string& topic,
                                           const std::set<std::string>& keys, std::size_t expected,
                                           std::chrono::seconds timeout);

}  // namespace osago::testing
