#pragma once

#include "resilience/partner_breaker.hpp"

#include <osago/common/http_client.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace osago::host {

/// How the host makes one company's HTTP calls for its plugin.
struct PartnerHttp {
  /// Verification of the partner (ca_file; empty: the system's CA store) and our
  /// client certificate for mutual TLS. Manifest `tls`; plugins.partner_http.ca_file by default.
  http::TlsOptions tls;
  int max_redirects = 0;                     ///< manifest `max_redirects`: 3xx followed to allowed hosts over https
  std::size_t max_response_bytes = 4u << 20;  ///< plugins.partner_http.max_response_kb: a longer answer is refused
  bool plain_http_to_loopback = false;       ///< plugins.partner_http.plain_http_to_loopback (development only)
};

/// One insurance company served by a plugin, as its manifest declares it.
struct CompanyConfig {
  std::string id;                               ///< stable id used in the API and events
  std::string name;                             ///< shown to drivers
  std::string plugin;                           ///< plugin_id of the adapter that serves it (filled by the registry)
  std::chrono::milliseconds call_timeout{5000}; ///< budget of one submit/poll call, HTTP included
  int max_concurrent_calls = 8;                 ///< bulkhead: calls running at once
  int max_queued_calls = 32;                    ///< bulkhead: calls waiting for a thread
  nlohmann::json settings = nlohmann::json::object();  ///< passed to the plugin's create(); ${ENV} expanded
  std::map<std::string, std::string> secrets;   ///< name → value, resolved from the environment
  /// "host:port" the plugin's HTTP requests may go to: the hosts of every
  /// http(s) URL in `settings` and the manifest's `allowed_hosts`. Lower case.
  std::vector<std::string> allowed_hosts;
  BreakerConfig breaker;                        ///< the company's circuit breaker
  RetryBudgetConfig retry_budget;               ///< how many failed calls may be retried
  PartnerHttp http;                             ///< TLS, redirects and size cap of its HTTP calls
};

/// The YAML file installed next to a plugin (`osago_plugin_x.so` →
/// `osago_plugin_x.yaml`) naming the companies it serves and their settings.
/// Example and keys: docs/plugin-guide.md.
struct PluginManifest {
  std::vector<CompanyConfig> companies;

  /// A manifest larger than this is refused.
  static constexpr std::size_t kMaxBytes = 1u << 20;

  /// Reads `file` as a VerifiedFile (no symbolic link, owned by this service's
  /// user or root, not writable by group or others) and parses it.
  static PluginManifest load(const std::string& file, const PartnerHttp& defaults = {});
  /// Parses a manifest's `text` (unknown keys are errors; `file` names it in
  /// errors). ${NAME} and ${NAME:-default} in settings, secrets and tls paths
  /// come from the environment, and only variables named for their company:
  /// OSAGO_SECRET_<COMPANY>_… (the id in capitals, '-' as '_'); any other is an
  /// error naming it, so a manifest cannot read the database password. Each
  /// company's `http` starts from `defaults` (plugins.partner_http). Throws ConfigError.
  static PluginManifest parse(const std::string& text, const std::string& file, const PartnerHttp& defaults = {});
};

/// Where an http(s) URL points: its scheme and its lower-case host and port.
struct PartnerTarget {
  std::string scheme;
  std::string host;
  int port = 0;
  std::string hostPort() const { return host + ":" + std::to_string(port); }
};

/// The target of `url`; nullopt unless it is an http:// or https:// URL with a host.
std::optional<PartnerTarget> partnerTarget(const std::string& url);

/// Whether plain http may go to `target`: only to loopback (localhost,
/// 127.x.y.z, ::1), and only with plugins.partner_http.plain_http_to_loopback.
bool plainHttpAllowed(const PartnerHttp& http, const PartnerTarget& target);

/// The prefix of the environment variables a company's manifest entry may
/// read: "OSAGO_SECRET_SEVERNY_SHCHIT_" for severny-shchit.
std::string companyVariablePrefix(const std::string& company_id);

/// Expands ${NAME} and ${NAME:-default} in every string of `value` from the
/// environment, NAME only with `prefix`. Throws ConfigError (naming `where`)
/// for another variable, or an unset one without default.
nlohmann::json expandEnvironment(const nlohmann::json& value, const std::string& file, const std::string& where,
                                 const std::string& prefix);

}  // namespace osago::host
