// The services' Kafka client settings: what the `kafka` section may say, and
// that librdkafka takes every property they make (no broker needed).
#include <osago/common/errors.hpp>
#include <osago/common/kafka_client.hpp>
#include <osago/common/yaml_config.hpp>

#include <librdkafka/rdkafka.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

namespace {

using osago::kafka::ClientSettings;

class KafkaClientSettings : public ::testing::Test {
 protected:
  void TearDown() override { ::unsetenv("OSAGO_KAFKA_PASSWORD"); }

  static ClientSettings read(const std::string& yaml, const std::string& file = "/etc/osago/service.yaml") {
    auto root = osago::config::Section::loadText(yaml, file);
    auto kafka = root.child("kafka");
    return osago::kafka::readClientSettings(kafka, "test-client");
  }
  static std::string errorOf(const std::string& yaml) {
    try {
      read(yaml);
    } catch (const osago::ConfigError& e) {
      return e.what();
    }
    return "";
  }
  static std::map<std::string, std::string> properties(const ClientSettings& s) {
    std::map<std::string, std::string> out;
    s.apply([&](const std::string& k, const std::string& v) { out[k] = v; });
    return out;
  }
  std::string caFile() const {
    auto path = std::filesystem::temp_directory_path() / ("osago-kafka-ca-" + std::to_string(::getpid()) + ".pem");
    std::ofstream(path) << "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n";
    return path.string();
  }
};

TEST_F(KafkaClientSettings, PlainKafkaByDefaultWithNoCredentialsSent) {
  auto s = read("kafka: {brokers: 'k1:9092,k2:9092'}\n");
  auto p = properties(s);
  EXPECT_EQ(p["bootstrap.servers"], "k1:9092,k2:9092");
  EXPECT_EQ(p["security.protocol"], "plaintext");
  EXPECT_EQ(p["client.id"], "test-client");
  EXPECT_EQ(p.count("sasl.username") + p.count("sasl.password") + p.count("ssl.ca.location"), 0u);
}

TEST_F(KafkaClientSettings, SaslSslSendsTheUserAndVerifiesTheBrokersAgainstTheCa) {
  ::setenv("OSAGO_KAFKA_PASSWORD", "p#ss: word", 1);
  auto ca = caFile();
  auto s = read("kafka: {brokers: 'kafka:9093', security_protocol: sasl_ssl, username: osago-aggregator, ca_file: " + ca + "}\n");
  auto p = properties(s);
  EXPECT_EQ(p["security.protocol"], "sasl_ssl");
  EXPECT_EQ(p["sasl.mechanisms"], "SCRAM-SHA-512");
  EXPECT_EQ(p["sasl.username"], "osago-aggregator");
  EXPECT_EQ(p["sasl.password"], "p#ss: word") << "the password is taken as written";
  EXPECT_EQ(p["ssl.ca.location"], ca);
  EXPECT_EQ(p["ssl.endpoint.identification.algorithm"], "https");
  EXPECT_EQ(p["enable.ssl.certificate.verification"], "true");
  EXPECT_EQ(s.describe().find("p#ss"), std::string::npos) << s.describe();
  EXPECT_NE(s.describe().find("sasl_ssl as osago-aggregator"), std::string::npos) << s.describe();

  ::unsetenv("OSAGO_KAFKA_PASSWORD");
  std::filesystem::path ca_path(ca);
  auto relative = read("kafka: {security_protocol: ssl, ca_file: " + ca_path.filename().string() + "}\n",
                       (ca_path.parent_path() / "service.yaml").string());
  EXPECT_EQ(relative.ca_file, ca)
      << "a relative CA file is relative to the configuration file";
}

TEST_F(KafkaClientSettings, MutualTlsPresentsTheClientCertificate) {
  auto ca = caFile();
  auto s = read("kafka: {security_protocol: ssl, ca_file: " + ca + ", client_cert: " + ca + ", client_key: " + ca + "}\n");
  auto p = properties(s);
  EXPECT_EQ(p["security.protocol"], "ssl");
  EXPECT_EQ(p["ssl.certificate.location"], ca);
  EXPECT_EQ(p["ssl.key.location"], ca);
  EXPECT_EQ(p.count("sasl.username"), 0u);
  EXPECT_NE(s.describe().find("ssl with the certificate"), std::string::npos) << s.describe();
}

TEST_F(KafkaClientSettings, EachMistakeIsNamedWithItsKeyAndReason) {
  struct Case {
    std::string yaml;
    const char* password;
    std::string expected;
  };
  const std::string huge(5000, 'u');
  const std::vector<Case> cases = {
      {"kafka: {security_protocol: SASL_PLAINTEXT}", nullptr, "kafka.security_protocol: 'SASL_PLAINTEXT' is none of"},
      {"kafka: {security_protocol: [sasl_ssl]}", nullptr, "kafka.security_protocol"},
      {"kafka: {brokers: ''}", nullptr, "kafka.brokers"},
      {"kafka: {brokers: {a: b}}", nullptr, "kafka.brokers"},
      {"kafka: {security_protocol: sasl_ssl, username: u, password: secret}", "x", "set the environment variable OSAGO_KAFKA_PASSWORD"},
      {"kafka: {security_protocol: sasl_ssl}", "x", "kafka.username: is required"},
      {"kafka: {security_protocol: sasl_ssl, username: u}", nullptr, "OSAGO_KAFKA_PASSWORD: must be set to the password of Kafka user 'u'"},
      {"kafka: {security_protocol: sasl_ssl, username: u, sasl_mechanism: PLAIN}", "x", "kafka.sasl_mechanism: 'PLAIN' is neither"},
      {"kafka: {username: u}", nullptr, "kafka.username: is only used with security_protocol: sasl_ssl"},
      {"kafka: {security_protocol: ssl, sasl_mechanism: SCRAM-SHA-256}", nullptr, "kafka.sasl_mechanism: is only used"},
      {"kafka: {}", "x", "OSAGO_KAFKA_PASSWORD: is set but kafka.security_protocol is plaintext"},
      {"kafka: {ca_file: /etc/ssl/certs/ca-certificates.crt}", nullptr, "kafka.ca_file: is only used with"},
      {"kafka: {security_protocol: ssl, ca_file: /nonexistent/ca.pem}", nullptr, "kafka.ca_file: cannot be read: /nonexistent/ca.pem"},
      {"kafka: {security_protocol: ssl, client_cert: " + caFile() + "}", nullptr, "kafka.client_key: is required beside kafka.client_cert"},
      {"kafka: {security_protocol: ssl, client_key: " + caFile() + "}", nullptr, "kafka.client_cert: is required beside kafka.client_key"},
      {"kafka: {client_cert: " + caFile() + ", client_key: " + caFile() + "}", nullptr, "kafka.client_cert: is only used with"},
      {"kafka: {security_protocol: ssl, client_cert: /nonexistent/c.pem, client_key: /nonexistent/k.pem}", nullptr, "kafka.client_cert: cannot be read"},
      {"kafka: {security_protocol: sasl_ssl, username: " + huge + "}", "x", "kafka.username: is longer than 1024"},
      {"kafka: {security_protocol: sasl_ssl, username: u}", "huge", "OSAGO_KAFKA_PASSWORD: is longer than 1024"},
  };
  for (const auto& c : cases) {
    if (c.password == nullptr) ::unsetenv("OSAGO_KAFKA_PASSWORD");
    else ::setenv("OSAGO_KAFKA_PASSWORD", std::string(c.password) == "huge" ? huge.c_str() : c.password, 1);
    auto e = errorOf(c.yaml + "\n");
    EXPECT_NE(e.find(c.expected), std::string::npos) << c.yaml.substr(0, 120) << " gave '" << e.substr(0, 300) << "'";
    EXPECT_LT(e.size(), 400u) << "a huge value is not echoed back";
  }
}

TEST_F(KafkaClientSettings, LibrdkafkaTakesEveryPropertyTheSettingsMake) {
  ::setenv("OSAGO_KAFKA_PASSWORD", "secret", 1);
  auto ca = caFile();
  for (const std::string protocol : {"plaintext", "ssl", "sasl_ssl"}) {
    std::string yaml = "kafka: {security_protocol: " + protocol;
    if (protocol == "sasl_ssl") yaml += ", username: u, sasl_mechanism: SCRAM-SHA-256";
    else ::unsetenv("OSAGO_KAFKA_PASSWORD");
    if (protocol != "plaintext") yaml += ", ca_file: " + ca + ", client_cert: " + ca + ", client_key: " + ca;
    auto s = read(yaml + "}\n");
    std::unique_ptr<rd_kafka_conf_t, decltype(&rd_kafka_conf_destroy)> conf(rd_kafka_conf_new(), &rd_kafka_conf_destroy);
    int taken = 0;
    s.apply([&](const std::string& k, const std::string& v) {
      char err[512];
      EXPECT_EQ(rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err), RD_KAFKA_CONF_OK)
          << protocol << ": " << k << "=" << v << ": " << err;
      ++taken;
    });
    EXPECT_GE(taken, protocol == "sasl_ssl" ? 10 : protocol == "ssl" ? 7 : 3) << protocol;
    ::setenv("OSAGO_KAFKA_PASSWORD", "secret", 1);
  }
}

}  // namespace
