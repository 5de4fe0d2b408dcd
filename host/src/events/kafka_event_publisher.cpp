#include "events/kafka_event_publisher.hpp"

#include <osago/common/errors.hpp>
#include <osago/common/metrics.hpp>

#include <Poco/Logger.h>

#include <librdkafka/rdkafkacpp.h>

namespace osago::host {

class KafkaEventPublisher::DeliveryReports : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    auto* id = static_cast<long long*>(message.msg_opaque());
    if (message.err() == RdKafka::ERR_NO_ERROR) {
      acked.push_back(*id);
    } else {
      Poco::Logger::get("events").warning("Kafka did not take event " + std::to_string(*id) + ": " + message.errstr());
    }
    ++reported;
  }
  std::vector<long long> acked;
  std::size_t reported = 0;
};

KafkaEventPublisher::KafkaEventPublisher(const std::string& brokers, std::string topic)
    : reports_(std::make_unique<DeliveryReports>()), topic_(std::move(topic)) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  auto set = [&](const std::string& key, const std::string& value) {
    if (conf->set(key, value, err) != RdKafka::Conf::CONF_OK) throw Error("kafka producer " + key + ": " + err);
  };
  set("bootstrap.servers", brokers);
  set("enable.idempotence", "true");
  set("linger.ms", "2");
  set("message.timeout.ms", std::to_string(kMessageTimeout.count()));
  set("client.id", "osago-aggregator");
  if (conf->set("dr_cb", reports_.get(), err) != RdKafka::Conf::CONF_OK) throw Error("kafka dr_cb: " + err);
  producer_.reset(RdKafka::Producer::create(conf.get(), err));
  if (!producer_) throw Error("cannot create the Kafka producer: " + err);
}

KafkaEventPublisher::~KafkaEventPublisher() {
  if (producer_) producer_->flush(5000);
}

std::vector<long long> KafkaEventPublisher::publish(const std::vector<OutboxEvent>& events) {
  reports_->acked.clear();
  reports_->reported = 0;
  std::vector<long long> ids;
  ids.reserve(events.size());
  for (const auto& e : events) ids.push_back(e.id);  // stable addresses for msg_opaque
  std::size_t sent = 0;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    auto code = producer_->produce(topic_, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                   const_cast<char*>(e.payload.data()), e.payload.size(), e.request_id.data(),
                                   e.request_id.size(), 0, &ids[i]);
    if (code != RdKafka::ERR_NO_ERROR) {
      Poco::Logger::get("events").warning("cannot queue event " + std::to_string(e.id) + ": " + RdKafka::err2str(code));
      break;  // keep order: later events wait for the next round
    }
    ++sent;
  }
  // librdkafka reports every message by its timeout; the margin covers the report's own way back.
  auto started = std::chrono::steady_clock::now();
  auto deadline = started + kMessageTimeout + std::chrono::seconds(5);
  while (reports_->reported < sent && std::chrono::steady_clock::now() < deadline) producer_->poll(50);
  static auto& latency = metrics::histogram("osago_kafka_publish_seconds",
                                            "Time from handing a batch of outbox events to Kafka to the last report on it");
  static auto& published = metrics::counter("osago_events_published_total",
                                            "Outbox events sent to Kafka by result: acked, or failed (they are sent again)");
  if (sent > 0) latency.Add({}, metrics::latencyBuckets()).Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  published.Add({{"result", "acked"}}).Increment(static_cast<double>(reports_->acked.size()));
  published.Add({{"result", "failed"}}).Increment(static_cast<double>(events.size() - reports_->acked.size()));
  return reports_->acked;
}

bool KafkaEventPublisher::brokerReachable(std::chrono::milliseconds timeout) {
  RdKafka::Metadata* raw = nullptr;
  auto code = producer_->metadata(false, nullptr, &raw, static_cast<int>(timeout.count()));
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  return code == RdKafka::ERR_NO_ERROR && metadata && !metadata->brokers()->empty();
}

}  // namespace osago::host
