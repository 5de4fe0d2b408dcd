#include <osago/common/errors.hpp>
#include <osago/common/kafka_topics.hpp>

#include <librdkafka/rdkafka.h>

#include <memory>
#include <mutex>

namespace osago::kafka {

namespace {

using Client = std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)>;

/// The last error the client logged on its own threads (a refused login, a
/// certificate that fails verification), to say why the brokers did not answer.
/// It is said in the exception, not printed on stderr as librdkafka would.
struct LastError {
  std::mutex mutex;
  std::string text;

  static void record(const rd_kafka_t* rk, int level, const char*, const char* line) {
    if (level > 3) return;  // syslog levels: errors and worse
    auto* self = static_cast<LastError*>(rd_kafka_opaque(rk));
    std::lock_guard lock(self->mutex);
    self->text = std::string(line).substr(0, 400);
  }
  std::string suffix() {
    std::lock_guard lock(mutex);
    return text.empty() ? "" : " (last error: " + text + ")";
  }
};

Client client(const ClientSettings& settings, LastError& last) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const std::string& key, const std::string& value) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw Error("kafka " + key + ": " + err);
    }
  };
  settings.apply(set);
  // Asking about a topic must not create it on a broker with auto.create.topics.enable.
  set("allow.auto.create.topics", "false");
  rd_kafka_conf_set_log_cb(conf, &LastError::record);
  rd_kafka_conf_set_opaque(conf, &last);
  Client rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err), &rd_kafka_destroy);
  if (!rk) {
    rd_kafka_conf_destroy(conf);  // rd_kafka_new takes it only when it succeeds
    throw Error(std::string("cannot create a Kafka client: ") + err);
  }
  return rk;
}

}  // namespace

void requireTopic(const ClientSettings& brokers, const std::string& topic, std::chrono::milliseconds timeout) {
  LastError last;
  Client rk = client(brokers, last);
  std::unique_ptr<rd_kafka_topic_t, decltype(&rd_kafka_topic_destroy)> t(rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr),
                                                                         &rd_kafka_topic_destroy);
  if (!t) throw Error("invalid topic '" + topic + "'");
  const rd_kafka_metadata_t* raw = nullptr;
  auto code = rd_kafka_metadata(rk.get(), 0, t.get(), &raw, static_cast<int>(timeout.count()));
  std::unique_ptr<const rd_kafka_metadata_t, decltype(&rd_kafka_metadata_destroy)> md(raw, &rd_kafka_metadata_destroy);
  if (code != RD_KAFKA_RESP_ERR_NO_ERROR || !md)
    throw Error("Kafka at " + brokers.describe() + " did not answer within " + std::to_string(timeout.count()) +
                    " ms: " + rd_kafka_err2str(code) + last.suffix(), true);
  if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
    throw Error("Kafka at " + brokers.describe() + " does not let this user see topic '" + topic +
                    "': grant it Describe (and Write or Read) on the topic (a Strimzi KafkaUser's ACLs)",
                true);
  bool known = md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topics[0].partition_cnt > 0;
  if (!known)
    throw Error("Kafka topic '" + topic + "' does not exist at " + brokers.describe() +
                    ": create it (a Strimzi KafkaTopic, packaging/kubernetes/operators/strimzi.yaml) or let the "
                    "aggregator create it with kafka.create_topic: true",
                true);
}

void ensureTopic(const ClientSettings& brokers, const std::string& topic, int partitions, std::chrono::milliseconds timeout) {
  char err[512];
  LastError last;
  Client rk = client(brokers, last);

  std::unique_ptr<rd_kafka_NewTopic_t, decltype(&rd_kafka_NewTopic_destroy)> new_topic(
      rd_kafka_NewTopic_new(topic.c_str(), partitions, /*replication_factor: the brokers' default*/ -1, err, sizeof err), &rd_kafka_NewTopic_destroy);
  if (!new_topic) throw Error("invalid topic '" + topic + "': " + err);
  std::unique_ptr<rd_kafka_queue_t, decltype(&rd_kafka_queue_destroy)> queue(rd_kafka_queue_new(rk.get()),
                                                                             &rd_kafka_queue_destroy);
  std::unique_ptr<rd_kafka_AdminOptions_t, decltype(&rd_kafka_AdminOptions_destroy)> options(
      rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS), &rd_kafka_AdminOptions_destroy);
  rd_kafka_AdminOptions_set_operation_timeout(options.get(), static_cast<int>(timeout.count()), err, sizeof err);
  rd_kafka_AdminOptions_set_request_timeout(options.get(), static_cast<int>(timeout.count()), err, sizeof err);
  rd_kafka_NewTopic_t* topics[] = {new_topic.get()};
  rd_kafka_CreateTopics(rk.get(), topics, 1, options.get(), queue.get());

  std::unique_ptr<rd_kafka_event_t, decltype(&rd_kafka_event_destroy)> event(
      rd_kafka_queue_poll(queue.get(), static_cast<int>(timeout.count()) + 1000), &rd_kafka_event_destroy);
  if (!event)
    throw Error("Kafka at " + brokers.describe() + " did not answer within " + std::to_string(timeout.count()) + " ms" +
                    last.suffix(), true);
  if (rd_kafka_event_error(event.get()))
    throw Error("creating Kafka topic '" + topic + "' failed: " + rd_kafka_event_error_string(event.get()) + last.suffix(),
                true);
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event.get());
  size_t n = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &n);
  for (size_t i = 0; i < n; ++i) {
    auto code = rd_kafka_topic_result_error(results[i]);
    if (code != RD_KAFKA_RESP_ERR_NO_ERROR && code != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
      throw Error("creating Kafka topic '" + topic + "' failed: " + rd_kafka_topic_result_error_string(results[i]), true);
  }
}

}  // namespace osago::kafka
