#include "streaming/quote_event_consumer.hpp"

#include <osago/common/errors.hpp>
#include <osago/common/ids.hpp>

#include <Poco/Logger.h>

#include <librdkafka/rdkafkacpp.h>

namespace osago::core {

class QuoteEventConsumer::Rebalance : public RdKafka::RebalanceCb {
 public:
  explicit Rebalance(std::atomic<bool>& assigned) : assigned_(assigned) {}
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      consumer->assign(partitions);
      assigned_ = true;
      Poco::Logger::get("events").information("consuming " + std::to_string(partitions.size()) + " partitions");
    } else {
      consumer->unassign();
      assigned_ = false;
    }
  }

 private:
  std::atomic<bool>& assigned_;
};

QuoteEventConsumer::QuoteEventConsumer(const std::string& brokers, const std::string& topic, EventHub& hub)
    : hub_(hub), rebalance_(std::make_unique<Rebalance>(assigned_)) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  auto set = [&](const std::string& key, const std::string& value) {
    if (conf->set(key, value, err) != RdKafka::Conf::CONF_OK) throw Error("kafka consumer " + key + ": " + err);
  };
  set("bootstrap.servers", brokers);
  set("group.id", "core-app-" + newUuid());  // a group per instance: every instance gets every event
  set("auto.offset.reset", "latest");
  set("enable.auto.commit", "false");
  set("client.id", "core-app");
  if (conf->set("rebalance_cb", rebalance_.get(), err) != RdKafka::Conf::CONF_OK) throw Error("kafka rebalance_cb: " + err);
  consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer_) throw Error("cannot create the Kafka consumer: " + err);
  auto code = consumer_->subscribe({topic});
  if (code != RdKafka::ERR_NO_ERROR) throw Error("cannot subscribe to " + topic + ": " + RdKafka::err2str(code));
}

QuoteEventConsumer::~QuoteEventConsumer() {
  stop();
  if (consumer_) consumer_->close();
}

void QuoteEventConsumer::start() {
  thread_.start([this] { loop(); });
}

void QuoteEventConsumer::stop() {
  thread_.stop();
}

void QuoteEventConsumer::loop() {
  auto& log = Poco::Logger::get("events");
  while (thread_.running()) {
    std::unique_ptr<RdKafka::Message> msg(consumer_->consume(200));
    if (msg->err() == RdKafka::ERR__TIMED_OUT || msg->err() == RdKafka::ERR__PARTITION_EOF) continue;
    if (msg->err() != RdKafka::ERR_NO_ERROR) {
      log.warning("Kafka: " + msg->errstr());
      continue;
    }
    auto event = nlohmann::json::parse(static_cast<const char*>(msg->payload()),
                                       static_cast<const char*>(msg->payload()) + msg->len(), nullptr, false);
    if (!event.is_object() || !event.contains("osagoRequestId")) {
      log.warning("skipping a malformed event at offset " + std::to_string(msg->offset()));
      continue;
    }
    hub_.publish(event);
  }
}

}  // namespace osago::core
