#include "clients.hpp"

#include <osago/common/http_client.hpp>
#include <osago/common/ids.hpp>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/WebSocket.h>
#include <Poco/URI.h>

#include <librdkafka/rdkafkacpp.h>

#include <memory>
#include <stdexcept>

namespace osago::testing {

JsonResponse httpJson(const std::string& method, const std::string& url, const nlohmann::json& body,
                      const std::string& bearer, const std::vector<std::pair<std::string, std::string>>& headers) {
  http::ClientRequest req;
  req.method = method;
  req.url = url;
  req.timeout = std::chrono::seconds(10);
  if (!body.is_null()) req.body = body.dump();
  if (!bearer.empty()) req.headers.emplace_back("Authorization", "Bearer " + bearer);
  for (const auto& h : headers) req.headers.push_back(h);
  auto r = http::call(req);
  JsonResponse out{r.status, nullptr, r.retry_after};
  if (!r.body.empty()) out.body = nlohmann::json::parse(r.body, nullptr, false);
  return out;
}

std::pair<int, std::vector<SseEvent>> readEventStream(const std::string& url, const std::string& bearer,
                                                      std::chrono::milliseconds timeout, const std::string& last_event_id) {
  Poco::URI uri(url);
  Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
  session.setTimeout(Poco::Timespan(2, 0), Poco::Timespan(2, 0),
                     Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(timeout.count()) * 1000));
  Poco::Net::HTTPRequest req("GET", uri.getPathEtc(), Poco::Net::HTTPMessage::HTTP_1_1);
  req.set("Accept", "text/event-stream");
  if (!bearer.empty()) req.set("Authorization", "Bearer " + bearer);
  if (!last_event_id.empty()) req.set("Last-Event-ID", last_event_id);
  session.sendRequest(req);
  Poco::Net::HTTPResponse resp;
  std::istream& in = session.receiveResponse(resp);
  std::vector<SseEvent> events;
  if (resp.getStatus() != 200) return {static_cast<int>(resp.getStatus()), events};
  auto deadline = std::chrono::steady_clock::now() + timeout;
  SseEvent current;
  std::string data;
  for (std::string line; std::chrono::steady_clock::now() < deadline && std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      if (!current.type.empty() || !data.empty()) {
        current.data = nlohmann::json::parse(data, nullptr, false);
        current.received = std::chrono::system_clock::now();
        events.push_back(current);
        if (current.type == "end") break;
      }
      current = SseEvent{};
      data.clear();
    } else if (line.rfind("id: ", 0) == 0) {
      current.id = line.substr(4);
    } else if (line.rfind("event: ", 0) == 0) {
      current.type = line.substr(7);
    } else if (line.rfind("data: ", 0) == 0) {
      data += line.substr(6);
    }
  }
  return {200, events};
}

std::pair<int, std::vector<SseEvent>> readWebSocket(const std::string& url, const std::string& bearer,
                                                    std::chrono::milliseconds timeout) {
  Poco::URI uri(url);
  Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
  Poco::Net::HTTPRequest req("GET", uri.getPathEtc(), Poco::Net::HTTPMessage::HTTP_1_1);
  if (!bearer.empty()) req.set("Authorization", "Bearer " + bearer);
  Poco::Net::HTTPResponse resp;
  std::vector<SseEvent> events;
  std::unique_ptr<Poco::Net::WebSocket> ws;
  try {
    ws = std::make_unique<Poco::Net::WebSocket>(session, req, resp);
  } catch (const Poco::Net::WebSocketException&) {
    return {static_cast<int>(resp.getStatus()), events};
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<char> buf(1 << 16);
  while (std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now());
    ws->setReceiveTimeout(Poco::Timespan(std::max<long long>(1000, left.count())));
    int flags = 0, n = 0;
    try {
      n = ws->receiveFrame(buf.data(), static_cast<int>(buf.size()), flags);
    } catch (const Poco::TimeoutException&) {
      break;
    }
    int op = flags & Poco::Net::WebSocket::FRAME_OP_BITMASK;
    if (op == Poco::Net::WebSocket::FRAME_OP_CLOSE || (n == 0 && flags == 0)) break;  // closed
    if (op != Poco::Net::WebSocket::FRAME_OP_TEXT) continue;                           // pings
    auto message = nlohmann::json::parse(std::string(buf.data(), static_cast<std::size_t>(n)), nullptr, false);
    events.push_back({std::to_string(message.value("seq", 0LL)), message.value("type", ""), message["data"]});
    if (events.back().type == "end") break;
  }
  ws->shutdown();
  return {101, events};
}

std::vector<nlohmann::json> readKafkaTopic(const std::string& brokers, const std::string& topic,
                                           const std::set<std::string>& keys, std::size_t expected,
                                           std::chrono::seconds timeout) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  conf->set("bootstrap.servers", brokers, err);
  conf->set("group.id", "integration-test-" + newUuid(), err);
  conf->set("auto.offset.reset", "earliest", err);
  conf->set("enable.auto.commit", "false", err);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer) throw std::runtime_error("Kafka consumer: " + err);
  consumer->subscribe({topic});
  std::vector<nlohmann::json> found;
  std::set<std::pair<std::string, long long>> distinct;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (distinct.size() < expected && std::chrono::steady_clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> msg(consumer->consume(200));
    if (msg->err() != RdKafka::ERR_NO_ERROR || !msg->key() || !keys.count(*msg->key())) continue;
    auto event = nlohmann::json::parse(static_cast<const char*>(msg->payload()),
                                       static_cast<const char*>(msg->payload()) + msg->len());
    distinct.emplace(*msg->key(), event.value("seq", 0LL));
    found.push_back(std::move(event));
  }
  consumer->close();
  return found;
}

std::vector<nlohmann::json> readKafkaEvents(const std::string& brokers, const std::string& topic,
                                            const std::string& key, std::size_t expected, std::chrono::seconds timeout) {
  return readKafkaTopic(brokers, topic, {key}, expected, timeout);
}

}  // namespace osago::testing
