#include <osago/common/errors.hpp>
#include <osago/common/kafka_client.hpp>
#include <osago/common/yaml_config.hpp>

#include <fstream>

namespace osago::kafka {

namespace {

constexpr const char* kPasswordVariable = "OSAGO_KAFKA_PASSWORD";
constexpr std::size_t kMaxCredentialLength = 1024;

const char* protocolName(ClientSettings::Security s) {
  switch (s) {
    case ClientSettings::Security::kSsl: return "ssl";
    case ClientSettings::Security::kSaslSsl: return "sasl_ssl";
    case ClientSettings::Security::kPlaintext: break;
  }
  return "plaintext";
}

}  // namespace

std::map<std::string, std::string> configShortNames() {
  return {{"kafka.brokers", "OSAGO_KAFKA_BROKERS"},
          {"kafka.topic", "OSAGO_KAFKA_TOPIC"},
          {"kafka.security_protocol", "OSAGO_KAFKA_SECURITY_PROTOCOL"},
          {"kafka.username", "OSAGO_KAFKA_USERNAME"},
          {"kafka.ca_file", "OSAGO_KAFKA_CA_FILE"},
          {"kafka.client_cert", "OSAGO_KAFKA_CLIENT_CERT"},
          {"kafka.client_key", "OSAGO_KAFKA_CLIENT_KEY"}};
}

ClientSettings readClientSettings(config::Section& kafka, const std::string& client_id) {
  ClientSettings s;
  s.client_id = client_id;
  const std::string& file = kafka.file();
  s.brokers = kafka.get<std::string>("brokers", s.brokers);
  if (s.brokers.empty() || s.brokers.size() > 4096)
    throw ConfigError(file, kafka.qualified("brokers"), "must list the brokers as host:port[,host:port…]");

  auto protocol = kafka.get<std::string>("security_protocol", "plaintext");
  if (protocol == "plaintext") s.security = ClientSettings::Security::kPlaintext;
  else if (protocol == "ssl") s.security = ClientSettings::Security::kSsl;
  else if (protocol == "sasl_ssl") s.security = ClientSettings::Security::kSaslSsl;
  else
    throw ConfigError(file, kafka.qualified("security_protocol"),
                      "'" + protocol.substr(0, 40) + "' is none of plaintext, ssl, sasl_ssl");
  const bool sasl = s.security == ClientSettings::Security::kSaslSsl;
  const bool tls = s.security != ClientSettings::Security::kPlaintext;

  if (kafka.has("password"))
    throw ConfigError(file, kafka.qualified("password"),
                      "does not belong in a file: set the environment variable " + std::string(kPasswordVariable));
  auto mechanism = kafka.optional<std::string>("sasl_mechanism");
  if (mechanism) {
    if (!sasl) throw ConfigError(file, kafka.qualified("sasl_mechanism"), "is only used with security_protocol: sasl_ssl");
    if (*mechanism != "SCRAM-SHA-512" && *mechanism != "SCRAM-SHA-256")
      throw ConfigError(file, kafka.qualified("sasl_mechanism"),
                        "'" + mechanism->substr(0, 40) + "' is neither SCRAM-SHA-512 nor SCRAM-SHA-256");
    s.sasl_mechanism = *mechanism;
  }
  s.username = kafka.get<std::string>("username", "");
  if (!s.username.empty() && !sasl)
    throw ConfigError(file, kafka.qualified("username"), "is only used with security_protocol: sasl_ssl");
  if (s.username.size() > kMaxCredentialLength)
    throw ConfigError(file, kafka.qualified("username"), "is longer than " + std::to_string(kMaxCredentialLength) + " characters");
  if (auto password = config::env(kPasswordVariable)) s.password = *password;
  if (!s.password.empty() && !sasl)
    throw ConfigError("environment variable " + std::string(kPasswordVariable), "",
                      "is set but " + kafka.qualified("security_protocol") + " is " + protocol +
                          ": the password would not be used (set sasl_ssl, or unset it)");
  if (s.password.size() > kMaxCredentialLength)
    throw ConfigError("environment variable " + std::string(kPasswordVariable), "",
                      "is longer than " + std::to_string(kMaxCredentialLength) + " characters");
  if (sasl && s.username.empty())
    throw ConfigError(file, kafka.qualified("username"), "is required with security_protocol: sasl_ssl");
  if (sasl && s.password.empty())
    throw ConfigError("environment variable " + std::string(kPasswordVariable), "",
                      "must be set to the password of Kafka user '" + s.username + "' (security_protocol: sasl_ssl)");

  // A PEM file of the TLS settings: only with TLS, relative to the configuration file, readable now.
  auto tlsFile = [&](const char* key) {
    auto path = kafka.get<std::string>(key, "");
    if (path.empty()) return path;
    if (!tls) throw ConfigError(file, kafka.qualified(key), "is only used with security_protocol: ssl or sasl_ssl");
    path = config::pathFrom(file, path);
    if (!std::ifstream(path)) throw ConfigError(file, kafka.qualified(key), "cannot be read: " + path);
    return path;
  };
  s.ca_file = tlsFile("ca_file");
  s.client_cert = tlsFile("client_cert");
  s.client_key = tlsFile("client_key");
  if (s.client_cert.empty() != s.client_key.empty())
    throw ConfigError(file, kafka.qualified(s.client_cert.empty() ? "client_cert" : "client_key"),
                      "is required beside " + kafka.qualified(s.client_cert.empty() ? "client_key" : "client_cert") +
                          " (a client certificate and its key go together)");
  return s;
}

void ClientSettings::apply(const std::function<void(const std::string&, const std::string&)>& set) const {
  set("bootstrap.servers", brokers);
  if (!client_id.empty()) set("client.id", client_id);
  set("security.protocol", protocolName(security));
  if (security == Security::kPlaintext) return;
  // The brokers' names are checked against their certificates (librdkafka's default, stated).
  set("ssl.endpoint.identification.algorithm", "https");
  set("enable.ssl.certificate.verification", "true");
  if (!ca_file.empty()) set("ssl.ca.location", ca_file);
  if (!client_cert.empty()) {
    set("ssl.certificate.location", client_cert);
    set("ssl.key.location", client_key);
  }
  if (security != Security::kSaslSsl) return;
  set("sasl.mechanisms", sasl_mechanism);
  set("sasl.username", username);
  set("sasl.password", password);
}

std::string ClientSettings::describe() const {
  std::string how = protocolName(security);
  if (security == Security::kSaslSsl) how += " as " + username;
  else if (!client_cert.empty()) how += " with the certificate " + client_cert;
  return brokers + " (" + how + ")";
}

}  // namespace osago::kafka
