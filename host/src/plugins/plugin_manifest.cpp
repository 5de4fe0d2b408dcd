#include "plugins/plugin_manifest.hpp"

#include "plugins/verified_file.hpp"

#include <osago/common/ids.hpp>
#include <osago/common/yaml_config.hpp>

#include <Poco/URI.h>

#include <algorithm>
#include <set>

namespace osago::host {
namespace {

/// A manifest's settings or secrets as JSON; ConfigError naming `where` in
/// `file` for a key that is not a plain scalar (YAML allows any node as a key).
nlohmann::json yamlToJson(const YAML::Node& node, const std::string& file, const std::string& where) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      auto out = nlohmann::json::object();
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) throw ConfigError(file, where, "has a key that is not a plain name");
        const std::string& key = kv.first.Scalar();
        out[key] = yamlToJson(kv.second, file, where + "." + key);
      }
      return out;
    }
    case YAML::NodeType::Sequence: {
      auto out = nlohmann::json::array();
      std::size_t i = 0;
      for (const auto& item : node) out.push_back(yamlToJson(item, file, where + "[" + std::to_string(i++) + "]"));
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (node.Tag() == "!") return s;  // quoted: keep as string
      if (s == "true" || s == "false") return s == "true";
      try {
        std::size_t pos = 0;
        long long i = std::stoll(s, &pos);
        if (pos == s.size()) return i;
      } catch (const std::exception&) {
      }
      return s;
    }
    default:
      return nullptr;
  }
}

std::string expandString(const std::string& s, const std::string& file, const std::string& where,
                         const std::string& prefix) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    if (s.compare(i, 2, "${") != 0) {
      out.push_back(s[i++]);
      continue;
    }
    auto end = s.find('}', i);
    if (end == std::string::npos) throw ConfigError(file, where, "unterminated ${...} in '" + s + "'");
    std::string expr = s.substr(i + 2, end - i - 2);
    auto sep = expr.find(":-");
    std::string name = expr.substr(0, sep);
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0)
      throw ConfigError(file, where,
                        "${" + name.substr(0, 64) + "}: a manifest may read only its company's environment variables, " +
                            prefix + "…");
    auto value = config::env(name.c_str());
    if (value) {
      out += *value;
    } else if (sep != std::string::npos) {
      out += expr.substr(sep + 2);
    } else {
      throw ConfigError(file, where, "environment variable " + name + " is not set");
    }
    i = end + 1;
  }
  return out;
}

/// The settings and secrets go to the worker as JSON text: yaml-cpp's escapes
/// ("\xA0" in a quoted string) can make bytes a JSON writer refuses.
void requireUtf8(const nlohmann::json& value, const std::string& file, const std::string& where) {
  try {
    (void)value.dump();
  } catch (const nlohmann::json::type_error&) {
    throw ConfigError(file, where, "is not valid UTF-8");
  }
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

/// The hosts of every http(s) URL among the strings of `value`.
void urlHosts(const nlohmann::json& value, std::set<std::string>& out) {
  if (value.is_string()) {
    if (auto target = partnerTarget(value.get_ref<const std::string&>())) out.insert(target->hostPort());
  } else if (value.is_structured()) {
    for (const auto& v : value) urlHosts(v, out);
  }
}

/// The first plain http:// URL among the strings of `value` that `http` does not admit ("" when none).
std::string refusedPlainUrl(const nlohmann::json& value, const PartnerHttp& http) {
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    if (s.rfind("http://", 0) != 0) return "";
    auto target = partnerTarget(s);
    return target && plainHttpAllowed(http, *target) ? "" : s;
  }
  if (value.is_structured())
    for (const auto& v : value)
      if (auto url = refusedPlainUrl(v, http); !url.empty()) return url;
  return "";
}

}  // namespace

std::optional<PartnerTarget> partnerTarget(const std::string& url) {
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) return std::nullopt;
  try {
    Poco::URI uri(url);
    if (uri.getHost().empty()) return std::nullopt;
    return PartnerTarget{uri.getScheme(), lower(uri.getHost()), uri.getPort()};
  } catch (const std::exception&) {
    return std::nullopt;  // not a URL after all
  }
}

bool plainHttpAllowed(const PartnerHttp& http, const PartnerTarget& target) {
  const std::string& h = target.host;
  bool loopback = h == "localhost" || h == "::1" || h == "[::1]" || h.rfind("127.", 0) == 0;
  return http.plain_http_to_loopback && loopback;
}

std::string companyVariablePrefix(const std::string& company_id) {
  std::string out = "OSAGO_SECRET_";
  for (char c : company_id) out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out + "_";
}

nlohmann::json expandEnvironment(const nlohmann::json& value, const std::string& file, const std::string& where,
                                 const std::string& prefix) {
  if (value.is_string()) return expandString(value.get<std::string>(), file, where, prefix);
  if (value.is_object()) {
    auto out = nlohmann::json::object();
    for (const auto& [k, v] : value.items()) out[k] = expandEnvironment(v, file, where + "." + k, prefix);
    return out;
  }
  if (value.is_array()) {
    auto out = nlohmann::json::array();
    for (const auto& v : value) out.push_back(expandEnvironment(v, file, where, prefix));
    return out;
  }
  return value;
}

PluginManifest PluginManifest::load(const std::string& file, const PartnerHttp& defaults) {
  std::string text;
  try {
    VerifiedFile::open(file, kMaxBytes, &text);
  } catch (const FileRefused& e) {
    throw ConfigError(file, "", e.what());
  }
  return parse(text, file, defaults);
}

PluginManifest PluginManifest::parse(const std::string& text, const std::string& file, const PartnerHttp& defaults) {
  auto root = config::Section::loadText(text, file);
  PluginManifest manifest;
  std::set<std::string> ids;
  for (auto& c : root.children("companies")) {
    CompanyConfig company;
    company.id = c.require<std::string>("id");
    if (!isCompanyId(company.id))
      throw ConfigError(file, c.qualified("id"), "must be 1 to 64 lower-case letters, digits and '-'");
    if (!ids.insert(company.id).second) throw ConfigError(file, c.qualified("id"), "duplicate company id '" + company.id + "'");
    company.name = c.require<std::string>("name");
    const std::string prefix = companyVariablePrefix(company.id);
    company.call_timeout = std::chrono::milliseconds(c.get<int>("call_timeout_ms", 5000));
    if (company.call_timeout.count() < 100 || company.call_timeout.count() > 60000)
      throw ConfigError(file, c.qualified("call_timeout_ms"), "must be between 100 and 60000");
    company.max_concurrent_calls = c.get<int>("max_concurrent_calls", company.max_concurrent_calls);
    company.max_queued_calls = c.get<int>("max_queued_calls", company.max_queued_calls);
    if (company.max_concurrent_calls < 1 || company.max_concurrent_calls > 256)
      throw ConfigError(file, c.qualified("max_concurrent_calls"), "must be between 1 and 256");
    if (company.max_queued_calls < 0 || company.max_queued_calls > 10000)
      throw ConfigError(file, c.qualified("max_queued_calls"), "must be between 0 and 10000");
    auto b = c.child("breaker");
    company.breaker = BreakerConfig::read(b, company.breaker);
    auto rb = c.child("retry_budget");
    company.retry_budget.max_tokens = rb.get<double>("max_tokens", company.retry_budget.max_tokens);
    company.retry_budget.token_ratio = rb.get<double>("token_ratio", company.retry_budget.token_ratio);
    rb.finish();
    if (company.retry_budget.max_tokens < 1 || company.retry_budget.max_tokens > 1000)
      throw ConfigError(file, c.qualified("retry_budget.max_tokens"), "must be between 1 and 1000");
    if (company.retry_budget.token_ratio <= 0 || company.retry_budget.token_ratio > 1)
      throw ConfigError(file, c.qualified("retry_budget.token_ratio"), "must be in (0, 1]");
    auto settings = c.raw("settings");
    if (settings && !settings.IsNull()) {
      if (!settings.IsMap()) throw ConfigError(file, c.qualified("settings"), "must be a mapping");
      company.settings = expandEnvironment(yamlToJson(settings, file, c.qualified("settings")), file, c.qualified("settings"), prefix);
      requireUtf8(company.settings, file, c.qualified("settings"));
    }
    auto secrets = c.raw("secrets");
    if (secrets && !secrets.IsNull()) {
      if (!secrets.IsMap()) throw ConfigError(file, c.qualified("secrets"), "must be a mapping of name to value");
      auto expanded = expandEnvironment(yamlToJson(secrets, file, c.qualified("secrets")), file, c.qualified("secrets"), prefix);
      requireUtf8(expanded, file, c.qualified("secrets"));
      for (const auto& [k, v] : expanded.items()) {
        if (!v.is_string()) throw ConfigError(file, c.qualified("secrets." + k), "must be a string");
        company.secrets[k] = v.get<std::string>();
      }
    }
    if (auto url = refusedPlainUrl(company.settings, defaults); !url.empty())
      throw ConfigError(file, c.qualified("settings"),
                        "'" + url.substr(0, 200) + "' is plain http: partner calls go over https (plain http only to "
                        "loopback, with plugins.partner_http.plain_http_to_loopback, for development)");
    std::set<std::string> hosts;
    urlHosts(company.settings, hosts);
    for (const auto& entry : c.get<std::vector<std::string>>("allowed_hosts", {})) {
      std::string e = lower(entry);
      auto colon = e.rfind(':');
      std::string host = colon == std::string::npos ? e : e.substr(0, colon);
      std::string port = colon == std::string::npos ? "" : e.substr(colon + 1);
      if (host.empty() || host.find_first_of("/@ ") != std::string::npos ||
          (colon != std::string::npos && (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)))
        throw ConfigError(file, c.qualified("allowed_hosts"), "'" + entry + "' is not a host or host:port");
      if (port.empty()) {
        hosts.insert(host + ":80");
        hosts.insert(host + ":443");
      } else {
        hosts.insert(host + ":" + std::to_string(std::stoi(port)));
      }
    }
    company.allowed_hosts.assign(hosts.begin(), hosts.end());
    company.http = defaults;
    company.http.max_redirects = c.get<int>("max_redirects", 0);
    if (company.http.max_redirects < 0 || company.http.max_redirects > 5)
      throw ConfigError(file, c.qualified("max_redirects"), "must be between 0 and 5");
    auto tls = c.child("tls");
    // Paths, relative to the manifest; from the environment like secrets (a key's path differs per host).
    auto tlsPath = [&](const char* key) {
      std::string v = expandString(tls.get<std::string>(key, ""), file, tls.qualified(key), prefix);
      return v.empty() ? v : config::pathFrom(file, v);
    };
    if (auto ca = tlsPath("ca_file"); !ca.empty()) company.http.tls.ca_file = ca;
    company.http.tls.client_cert = tlsPath("client_cert");
    company.http.tls.client_key = tlsPath("client_key");
    tls.finish();
    if (company.http.tls.client_cert.empty() != company.http.tls.client_key.empty())
      throw ConfigError(file, c.qualified("tls"), "client_cert and client_key come together (mutual TLS) or not at all");
    c.finish();
    manifest.companies.push_back(std::move(company));
  }
  root.finish();
  return manifest;
}

}  // namespace osago::host
