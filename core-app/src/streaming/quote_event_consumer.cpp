#include "streaming/quote_event_consumer.hpp"

#include <osago/common/errors.hpp>
#include <osago/common/ids.hpp>
#include <osago/common/outside_json.hpp>

#include <Poco/Logger.h>

#include <librdkafka/rdkafkacpp.h>

#include <osago/common/metrics.hpp>

namespace osago::core {

QuoteEventConsumer::QuoteEventConsumer(const kafka::ClientSettings& brokers, std::string topic, EventHub& hub)
    : topic_(std::move(topic)), hub_(hub) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  auto set = [&](const std::string& key, const std::string& value) {
    if (conf->set(key, value, err) != RdKafka::Conf::CONF_OK) throw Error("kafka consumer " + key + ": " + err);
  };
  brokers.apply(set);
  set("group.id", "core-app-" + newUuid());  // required by the client; no group is joined, nothing is committed
  set("enable.auto.commit", "false");
  set("enable.auto.offset.store", "false");
  set("auto.offset.reset", "latest");
  set("reconnect.backoff.max.ms", "2000");  // back soon after a broker restart
  consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer_) throw Error("cannot create the Kafka consumer: " + err);
}

void QuoteEventConsumer::assignNewPartitions() {
  std::string err;
  std::unique_ptr<RdKafka::Topic> topic(RdKafka::Topic::create(consumer_.get(), topic_, nullptr, err));
  if (!topic) throw Error("kafka topic " + topic_ + ": " + err);
  RdKafka::Metadata* raw = nullptr;
  auto code = consumer_->metadata(false, topic.get(), &raw, 5000);
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  if (code != RdKafka::ERR_NO_ERROR) throw Error("Kafka metadata of " + topic_ + ": " + RdKafka::err2str(code), true);
  int partitions = 0;
  for (const auto* t : *metadata->topics())
    if (t->topic() == topic_ && t->err() == RdKafka::ERR_NO_ERROR) partitions = static_cast<int>(t->partitions()->size());
  if (partitions <= assigned_partitions_) return;
  std::vector<RdKafka::TopicPartition*> added;
  for (int p = assigned_partitions_; p < partitions; ++p)
    added.push_back(RdKafka::TopicPartition::create(
        topic_, p, assigned_partitions_ == 0 ? RdKafka::Topic::OFFSET_END : RdKafka::Topic::OFFSET_BEGINNING));
  auto error = std::unique_ptr<RdKafka::Error>(consumer_->incremental_assign(added));
  RdKafka::TopicPartition::destroy(added);
  if (error) throw Error("cannot read " + topic_ + ": " + error->str(), true);
  Poco::Logger::get("events").information("reading partitions " + std::to_string(assigned_partitions_) + "–" +
                                          std::to_string(partitions - 1) + " of " + topic_);
  assigned_partitions_ = partitions;
  next_offset_.resize(static_cast<std::size_t>(partitions), -1);
  assigned_ = true;
}

void QuoteEventConsumer::reportLag() {
  static auto& lag = metrics::gauge("osago_core_kafka_consumer_lag",
                                    "Events on the quote-events topic this instance has not read yet, by partition "
                                    "(the partition's end as last heard from the broker, less the next offset to read)");
  for (int p = 0; p < assigned_partitions_; ++p) {
    std::int64_t low = -1, high = -1;
    if (consumer_->get_watermark_offsets(topic_, p, &low, &high) != RdKafka::ERR_NO_ERROR || high < 0) continue;
    std::int64_t next = next_offset_[static_cast<std::size_t>(p)];
    if (next < 0) {
      // Nothing read yet: where the client will fetch from.
      std::vector<RdKafka::TopicPartition*> one{RdKafka::TopicPartition::create(topic_, p)};
      if (consumer_->position(one) == RdKafka::ERR_NO_ERROR) next = one[0]->offset();
      RdKafka::TopicPartition::destroy(one);
      if (next < 0) next = high;  // not fetched yet: it starts at the end
    }
    lag.Add({{"partition", std::to_string(p)}}).Set(static_cast<double>(std::max<std::int64_t>(0, high - next)));
  }
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

std::optional<std::string> quoteEventProblem(const nlohmann::json& event) {
  OutsideJson check(event);
  check.string("osagoRequestId", true, 64).integer("seq", true).string("eventId", false, 64).string("type", false, 64);
  check.string("companyId", false, 128).string("companyName", false, 512).string("status", false, 32);
  check.string("requestStatus", false, 32).string("traceId", false, 64).object("offer").object("error").integer("occurredAtMs");
  check.object("purchase");
  if (check.problem()) return check.problem();
  if (event["seq"].get<long long>() < 1) return std::string("field 'seq' must be at least 1");
  return std::nullopt;
}

void QuoteEventConsumer::loop() {
  auto& log = Poco::Logger::get("events");
  static RejectionLog rejections("events", "kafka_event");
  auto next_check = std::chrono::steady_clock::time_point{};
  auto next_lag = std::chrono::steady_clock::time_point{};
  while (thread_.running()) {
    // A barrier at the thread's edge: whatever goes wrong with one message is
    // logged and counted, and the loop reads on (every instance reads every
    // partition: one bad event must not end them all).
    try {
      if (std::chrono::steady_clock::now() >= next_check) {
        try {
          assignNewPartitions();
          next_check = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        } catch (const Error& e) {
          log.warning(e.what());
          next_check = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        }
      }
      if (auto now = std::chrono::steady_clock::now(); now >= next_lag) {
        next_lag = now + std::chrono::seconds(2);
        reportLag();
      }
      std::unique_ptr<RdKafka::Message> msg(consumer_->consume(200));
      if (msg->err() == RdKafka::ERR__TIMED_OUT || msg->err() == RdKafka::ERR__PARTITION_EOF) continue;
      if (msg->err() != RdKafka::ERR_NO_ERROR) {
        log.warning("Kafka: " + msg->errstr());
        continue;
      }
      if (msg->partition() >= 0 && msg->partition() < assigned_partitions_)
        next_offset_[static_cast<std::size_t>(msg->partition())] = msg->offset() + 1;
      std::string where = "partition " + std::to_string(msg->partition()) + " offset " + std::to_string(msg->offset());
      auto event = parseOutside(std::string_view(static_cast<const char*>(msg->payload()), msg->len()));
      auto problem = event.is_discarded() ? std::optional<std::string>("not valid JSON, or nested deeper than 64 levels")
                                          : quoteEventProblem(event);
      if (problem) {
        rejections.reject("skipping a malformed event of " + topic_ + " at " + where + ": " + *problem);
        continue;
      }
      hub_.publish(event);
    } catch (const std::exception& e) {
      metrics::countBarrier("core-app.kafka_consumer");
      log.error(std::string("unexpected error while reading events (a bug; the message is skipped): ") + errorText(e));
    }
  }
}

}  // namespace osago::core
