#include "events/kafka_event_publisher.hpp"

#include <osago/common/errors.hpp>
#include <osago/common/metrics.hpp>

#include <Poco/Logger.h>

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <mutex>

namespace osago::host {

namespace {

// What one publish() call waits for; shared by its messages' reports.
struct Batch {
  std::mutex mutex;
  std::vector<long long> acked;
  std::size_t reported = 0;
};

// One message in flight: owned by librdkafka's opaque from produce() until its report.
struct InFlight {
  std::shared_ptr<Batch> batch;
  long long id;
};

}  // namespace

class KafkaEventPublisher::DeliveryReports : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    std::unique_ptr<InFlight> event(static_cast<InFlight*>(message.msg_opaque()));
    if (!event) return;
    if (message.err() != RdKafka::ERR_NO_ERROR)
      Poco::Logger::get("events").warning("Kafka did not take event " + std::to_string(event->id) + ": " + message.errstr());
    std::lock_guard lock(event->batch->mutex);
    if (message.err() == RdKafka::ERR_NO_ERROR) event->batch->acked.push_back(event->id);
    ++event->batch->reported;
  }
};

KafkaEventPublisher::KafkaEventPublisher(const kafka::ClientSettings& brokers, std::string topic,
                                         std::chrono::milliseconds message_timeout, std::chrono::milliseconds report_wait)
    : reports_(std::make_unique<DeliveryReports>()), topic_(std::move(topic)), report_wait_(report_wait) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  auto set = [&](const std::string& key, const std::string& value) {
    if (conf->set(key, value, err) != RdKafka::Conf::CONF_OK) throw Error("kafka producer " + key + ": " + err);
  };
  brokers.apply(set);
  set("enable.idempotence", "true");
  set("linger.ms", "2");
  set("message.timeout.ms", std::to_string(message_timeout.count()));
  if (conf->set("dr_cb", reports_.get(), err) != RdKafka::Conf::CONF_OK) throw Error("kafka dr_cb: " + err);
  producer_.reset(RdKafka::Producer::create(conf.get(), err));
  if (!producer_) throw Error("cannot create the Kafka producer: " + err);
}

KafkaEventPublisher::~KafkaEventPublisher() {
  if (!producer_) return;
  producer_->flush(5000);
  // What is still queued is given up (its events stay unpublished in the
  // outbox); its reports, served by the last poll, free their state.
  producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
  producer_->poll(0);
}

std::vector<long long> KafkaEventPublisher::publish(const std::vector<OutboxEvent>& events,
                                                    std::chrono::milliseconds report_wait) {
  auto batch = std::make_shared<Batch>();
  std::size_t sent = 0;
  for (const auto& e : events) {
    auto event = std::make_unique<InFlight>(InFlight{batch, e.id});
    auto code = producer_->produce(topic_, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                   const_cast<char*>(e.payload.data()), e.payload.size(), e.request_id.data(),
                                   e.request_id.size(), 0, event.get());
    if (code != RdKafka::ERR_NO_ERROR) {
      Poco::Logger::get("events").warning("cannot queue event " + std::to_string(e.id) + ": " + RdKafka::err2str(code));
      break;  // keep order: later events wait for the next round
    }
    event.release();  // the report owns it now
    ++sent;
  }
  auto started = std::chrono::steady_clock::now();
  auto deadline = started + report_wait;
  auto reportedAll = [&] {
    std::lock_guard lock(batch->mutex);
    return batch->reported >= sent;
  };
  while (!reportedAll()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    producer_->poll(static_cast<int>(std::min<long long>(left.count(), 50)));  // serves reports (of any caller's batch)
  }
  std::vector<long long> acked;
  {
    std::lock_guard lock(batch->mutex);
    acked = batch->acked;
  }
  static auto& latency = metrics::histogram("osago_kafka_publish_seconds",
                                            "Time from handing a batch of outbox events to Kafka to the last report on it");
  static auto& published = metrics::counter("osago_events_published_total",
                                            "Outbox events sent to Kafka by result: acked, or failed (they are sent again)");
  if (sent > 0) latency.Add({}, metrics::latencyBuckets()).Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  published.Add({{"result", "acked"}}).Increment(static_cast<double>(acked.size()));
  published.Add({{"result", "failed"}}).Increment(static_cast<double>(events.size() - acked.size()));
  return acked;
}

bool KafkaEventPublisher::brokerReachable(std::chrono::milliseconds timeout) {
  RdKafka::Metadata* raw = nullptr;
  auto code = producer_->metadata(false, nullptr, &raw, static_cast<int>(timeout.count()));
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  return code == RdKafka::ERR_NO_ERROR && metadata && !metadata->brokers()->empty();
}

}  // namespace osago::host
