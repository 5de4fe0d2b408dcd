#pragma once

#include <functional>
#include <map>
#include <string>

namespace osago::config { class Section; }

namespace osago::kafka {

/// How a service reaches the brokers: one set of settings for every Kafka
/// client it makes (producer, consumer, the topic check), read from its
/// `kafka:` section (docs/configuration.md).
struct ClientSettings {
  enum class Security { kPlaintext, kSsl, kSaslSsl };

  std::string brokers = "127.0.0.1:19092";
  Security security = Security::kPlaintext;
  std::string sasl_mechanism = "SCRAM-SHA-512";  ///< with sasl_ssl: SCRAM-SHA-512 or SCRAM-SHA-256
  std::string username;                          ///< with sasl_ssl
  std::string password;                          ///< with sasl_ssl: from OSAGO_KAFKA_PASSWORD, never from the file
  std::string ca_file;                           ///< with ssl/sasl_ssl: the brokers' CA (PEM); empty: the system store
  std::string client_cert;                       ///< with ssl/sasl_ssl: this client's certificate (PEM), for mutual TLS
  std::string client_key;                        ///< its private key (PEM), given with client_cert
  std::string client_id;                         ///< what the brokers' logs and quotas call this client

  /// Hands each librdkafka property these settings make to `set` (key, value).
  void apply(const std::function<void(const std::string&, const std::string&)>& set) const;
  /// The brokers and how they are reached, for logs and errors (never the password).
  std::string describe() const;
};

/// The short environment names of the `kafka` keys both services share
/// (OSAGO_KAFKA_BROKERS, OSAGO_KAFKA_TOPIC, OSAGO_KAFKA_SECURITY_PROTOCOL,
/// OSAGO_KAFKA_USERNAME, OSAGO_KAFKA_CA_FILE, OSAGO_KAFKA_CLIENT_CERT,
/// OSAGO_KAFKA_CLIENT_KEY), as config::EnvOverrides takes them.
std::map<std::string, std::string> configShortNames();

/// Reads `brokers`, `security_protocol`, `sasl_mechanism`, `username`,
/// `ca_file`, `client_cert` and `client_key` of the `kafka` section (the
/// caller reads its other keys and finishes it) and the password from
/// OSAGO_KAFKA_PASSWORD. Relative files are relative to the configuration
/// file. Throws ConfigError naming the key and the reason: an unknown protocol
/// or mechanism, sasl_ssl without a user or password, a certificate without
/// its key, a setting plain Kafka would ignore, a file that cannot be read.
ClientSettings readClientSettings(config::Section& kafka, const std::string& client_id);

}  // namespace osago::kafka
