// Header-only C++ helpers for writing an insurer plugin against plugin_abi.h.
//
// A plugin author writes one class and one macro:
//
//   class MyInsurer {
//    public:
//     MyInsurer(osago::sdk::Host host, const nlohmann::json& config);
//     osago::sdk::Outcome submit(const osago::sdk::Call& call, const nlohmann::json& quote);
//     osago::sdk::Outcome poll(const osago::sdk::Call& call, const std::string& external_id);
//   };
//   OSAGO_PLUGIN(MyInsurer, "my-insurer", "My Insurer", "1.0.0")
//
// A plugin whose partner sells the policy too (ABI 1.2) adds two members, and
// its offers can then be bought through the host:
//
//     osago::sdk::PurchaseOutcome issue(const osago::sdk::Call& call, const nlohmann::json& purchase);
//     osago::sdk::PurchaseOutcome issuePoll(const osago::sdk::Call& call, const std::string& external_purchase_id);
//
// Every exported function is wrapped in a fail-closed barrier: an exception
// never crosses the ABI; it becomes a status code and a message for the host.
#pragma once

#include <osago/plugin_abi.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace osago::sdk {

inline osago_str toAbi(std::string_view s) { return osago_str{s.data(), s.size()}; }
inline std::string fromAbi(osago_str s) { return s.data ? std::string(s.data, s.len) : std::string(); }

/// An error a plugin throws to end a call with a given status. `message` is
/// for operators: say what the partner did and what would fix it.
class PluginError : public std::runtime_error {
 public:
  PluginError(osago_status status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  osago_status status() const noexcept { return status_; }
  bool isRetryable() const noexcept {
    return status_ == OSAGO_STATUS_TRANSIENT || status_ == OSAGO_STATUS_TIMEOUT;
  }

 private:
  osago_status status_;
};

/// A copied HTTP response.
struct HttpResponse {
  int status_code = 0;
  std::string body;
  std::string content_type;
  std::string retry_after;
};

/// One outgoing HTTP request.
struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::uint32_t timeout_ms = 0;
};

/// The current submit/poll call: correlation id, deadline, and the host's
/// per-call services. Valid only during the call.
class Call {
 public:
  explicit Call(const osago_call* call) : call_(call) {}
  std::string correlationId() const { return fromAbi(call_->correlation_id); }
  /// The call's W3C traceparent (ABI 1.1; empty from an older host or without a trace).
  std::string traceparent() const {
    if (call_->struct_size < offsetof(osago_call, traceparent) + sizeof(osago_str)) return {};
    return fromAbi(call_->traceparent);
  }
  std::int64_t deadlineUnixMs() const { return call_->deadline_unix_ms; }
  const osago_call* raw() const { return call_; }

 private:
  const osago_call* call_;
};

/// The host services table. Copyable; valid for the instance's life.
class Host {
 public:
  explicit Host(const osago_host_api* api) : api_(api) {}

  void log(osago_log_level level, std::string_view message) const {
    api_->log(api_->host_ctx, level, toAbi(message));
  }
  std::int64_t nowUnixMs() const { return api_->now_unix_ms(api_->host_ctx); }

  /// The company's secret `name` from the manifest; throws
  /// PluginError(INVALID_INPUT) naming it when it is not configured.
  std::string secret(std::string_view name) const {
    osago_str value{nullptr, 0};
    if (api_->struct_size < offsetof(osago_host_api, secret_get) + sizeof(api_->secret_get) || !api_->secret_get ||
        api_->secret_get(api_->host_ctx, toAbi(name), &value) != OSAGO_STATUS_OK)
      throw PluginError(OSAGO_STATUS_INVALID_INPUT,
                        "secret '" + std::string(name) + "' is not configured for this company (manifest: secrets)");
    return fromAbi(value);
  }

  /// Performs an HTTP call; throws PluginError(TIMEOUT/TRANSIENT) when no
  /// response arrived. Any HTTP status code is returned, not thrown.
  HttpResponse http(const Call& call, const HttpRequest& request) const {
    std::vector<osago_http_header> headers;
    headers.reserve(request.headers.size());
    for (const auto& [name, value] : request.headers) headers.push_back({toAbi(name), toAbi(value)});
    osago_http_request raw{};
    raw.struct_size = sizeof(raw);
    raw.method = toAbi(request.method);
    raw.url = toAbi(request.url);
    raw.headers = headers.data();
    raw.header_count = headers.size();
    raw.body = toAbi(request.body);
    raw.timeout_ms = request.timeout_ms;
    osago_http_response response{};
    response.struct_size = sizeof(response);
    osago_status status = api_->http_call(call.raw()->host_call_ctx, &raw, &response);
    if (status != OSAGO_STATUS_OK) {
      throw PluginError(status, (status == OSAGO_STATUS_TIMEOUT ? "HTTP call timed out: " : "HTTP call failed: ") +
                                    request.method + " " + request.url);
    }
    return HttpResponse{response.status_code, fromAbi(response.body), fromAbi(response.content_type),
                        fromAbi(response.retry_after)};
  }

 private:
  const osago_host_api* api_;
};

/// Whether `s` is a canonical money amount the host takes: digits, a dot, two
/// digits ("11394.00"), at most OSAGO_OUTCOME_MAX_AMOUNT_DIGITS before the dot.
inline bool isRublesAmount(const std::string& s) {
  auto dot = s.find('.');
  if (dot == std::string::npos || dot == 0 || dot > OSAGO_OUTCOME_MAX_AMOUNT_DIGITS || s.size() - dot != 3) return false;
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  return std::all_of(s.begin(), s.begin() + static_cast<long>(dot), digit) &&
         std::all_of(s.begin() + static_cast<long>(dot) + 1, s.end(), digit);
}

/// What a submit or poll call found out; serialised to the outcome JSON
/// described in docs/plugin-abi.md. The partner's strings are held to the
/// document's bounds here, so a partner's long answer is never the plugin's
/// error: a long id is refused (PERMANENT, the partner's fault), a long
/// decline reason or message is cut at a character boundary.
class Outcome {
 public:
  /// The partner accepted the application and will answer later.
  static Outcome pending(std::string external_id, std::optional<std::int64_t> retry_after_ms = std::nullopt) {
    nlohmann::json j{{"v", 1}, {"outcome", "PENDING"}, {"externalId", boundedId(std::move(external_id))}};
    if (retry_after_ms) j["retryAfterMs"] = *retry_after_ms;
    return Outcome(std::move(j));
  }
  /// A priced offer. `premium_rub` is a decimal string with two fraction
  /// digits, e.g. "11394.00"; any other (a partner's absurd price) is the
  /// partner's PERMANENT error.
  static Outcome offer(std::string external_id, std::string premium_rub, nlohmann::json details = nlohmann::json::object()) {
    if (!isRublesAmount(premium_rub))
      throw PluginError(OSAGO_STATUS_PERMANENT, "the partner's premium '" + clipped(premium_rub, 40) +
                                                    "' is not rubles with two decimals and at most " +
                                                    std::to_string(OSAGO_OUTCOME_MAX_AMOUNT_DIGITS) + " whole digits");
    nlohmann::json offer = std::move(details);
    offer["premium"] = {{"amount", std::move(premium_rub)}, {"currency", "RUB"}};
    return Outcome(nlohmann::json{
        {"v", 1}, {"outcome", "OFFER"}, {"externalId", boundedId(std::move(external_id))}, {"offer", std::move(offer)}});
  }
  /// The partner refused to insure; `reason` is a machine-readable code.
  static Outcome declined(std::string reason, std::string message) {
    return Outcome(nlohmann::json{{"v", 1},
                                  {"outcome", "DECLINED"},
                                  {"reason", clipped(std::move(reason), OSAGO_OUTCOME_MAX_DECLINE_REASON)},
                                  {"message", clipped(std::move(message), OSAGO_OUTCOME_MAX_DECLINE_MESSAGE)}});
  }

  /// `s` cut to at most `max_bytes`, never inside a UTF-8 sequence.
  static std::string clipped(std::string s, std::size_t max_bytes) {
    if (s.size() <= max_bytes) return s;
    std::size_t n = max_bytes;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    s.resize(n);
    return s;
  }

  const nlohmann::json& json() const { return json_; }

 private:
  explicit Outcome(nlohmann::json j) : json_(std::move(j)) {}
  static std::string boundedId(std::string id) {
    if (id.size() > OSAGO_OUTCOME_MAX_EXTERNAL_ID)
      throw PluginError(OSAGO_STATUS_PERMANENT, "the partner's application id is " + std::to_string(id.size()) +
                                                    " bytes, longer than the " +
                                                    std::to_string(OSAGO_OUTCOME_MAX_EXTERNAL_ID) + " the host keeps");
    return id;
  }
  nlohmann::json json_;
};

/// Whether `url` is a link the host shows a buyer as it is (ABI 1.2): absolute
/// http(s) with a host, at most OSAGO_PURCHASE_MAX_URL bytes, no spaces, quotes,
/// angle brackets, backslashes, backticks or control characters. The host
/// applies this same rule to every purchase outcome it reads.
inline bool isShowableLink(std::string_view url) {
  std::size_t start = url.rfind("https://", 0) == 0 ? 8 : url.rfind("http://", 0) == 0 ? 7 : 0;
  if (start == 0 || url.size() > OSAGO_PURCHASE_MAX_URL || url.size() == start || url[start] == '/') return false;
  return std::none_of(url.begin(), url.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7F || c == '"' || c == '\'' || c == '<' || c == '>' || c == '\\' || c == '`';
  });
}

/// Whether `number` is a policy number the host keeps: 1 to
/// OSAGO_PURCHASE_MAX_POLICY_NUMBER bytes, no control characters.
inline bool isPolicyNumber(std::string_view number) {
  return !number.empty() && number.size() <= OSAGO_PURCHASE_MAX_POLICY_NUMBER &&
         std::none_of(number.begin(), number.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; });
}

/// Whether a payment page's end (Unix milliseconds) is one the host takes: 2000-01-01 to 2100-01-01.
inline bool isPurchaseExpiry(std::int64_t unix_ms) {
  return unix_ms >= 946'684'800'000LL && unix_ms <= 4'102'444'800'000LL;
}

/// What an issue or issue_poll call found out about a purchase (ABI 1.2),
/// serialised to the purchase outcome JSON of docs/plugin-abi.md. As with
/// Outcome, the partner's strings are held to the document's bounds: an id,
/// link or policy number the host could not keep is the partner's PERMANENT
/// error, a decline's reason or message is cut.
class PurchaseOutcome {
 public:
  /// The partner took the purchase and is still working on it (validation, calculation).
  static PurchaseOutcome pending(std::string external_id, std::optional<std::int64_t> retry_after_ms = std::nullopt) {
    nlohmann::json j = start("PENDING", std::move(external_id));
    if (retry_after_ms) j["retryAfterMs"] = *retry_after_ms;
    return PurchaseOutcome(std::move(j));
  }
  /// The buyer can pay: `payment_url` is the partner's payment page, open
  /// until `expires_at_unix_ms`; `draft_url`, if any, the policy draft (PDF).
  static PurchaseOutcome payment(std::string external_id, std::string payment_url, std::int64_t expires_at_unix_ms,
                                 std::string draft_url = {}) {
    nlohmann::json j = start("PAYMENT", std::move(external_id));
    j["paymentUrl"] = link(std::move(payment_url), "payment link");
    if (!draft_url.empty()) j["draftUrl"] = link(std::move(draft_url), "policy draft link");
    if (!isPurchaseExpiry(expires_at_unix_ms))
      throw PluginError(OSAGO_STATUS_PERMANENT, "the partner's payment deadline " + std::to_string(expires_at_unix_ms) +
                                                    " (Unix ms) is not a time between 2000 and 2100");
    j["expiresAtUnixMs"] = expires_at_unix_ms;
    return PurchaseOutcome(std::move(j));
  }
  /// Paid; the partner has not issued the policy yet.
  static PurchaseOutcome paid(std::string external_id) { return PurchaseOutcome(start("PAID", std::move(external_id))); }
  /// The policy is issued: its number and, if the partner gives one, a link to it.
  static PurchaseOutcome issued(std::string external_id, std::string policy_number, std::string policy_url = {}) {
    nlohmann::json j = start("ISSUED", std::move(external_id));
    if (!isPolicyNumber(policy_number))
      throw PluginError(OSAGO_STATUS_PERMANENT, "the partner's policy number is " + std::to_string(policy_number.size()) +
                                                    " bytes or has a control character; the host keeps 1 to " +
                                                    std::to_string(OSAGO_PURCHASE_MAX_POLICY_NUMBER) + " bytes of text");
    j["policyNumber"] = std::move(policy_number);
    if (!policy_url.empty()) j["policyUrl"] = link(std::move(policy_url), "policy link");
    return PurchaseOutcome(std::move(j));
  }
  /// The partner refused to sell (the offer expired, the data did not pass its checks, …).
  static PurchaseOutcome declined(std::string reason, std::string message) {
    return PurchaseOutcome(nlohmann::json{{"v", 1},
                                          {"outcome", "DECLINED"},
                                          {"reason", Outcome::clipped(std::move(reason), OSAGO_OUTCOME_MAX_DECLINE_REASON)},
                                          {"message", Outcome::clipped(std::move(message), OSAGO_OUTCOME_MAX_DECLINE_MESSAGE)}});
  }

  const nlohmann::json& json() const { return json_; }

 private:
  explicit PurchaseOutcome(nlohmann::json j) : json_(std::move(j)) {}
  static nlohmann::json start(const char* outcome, std::string external_id) {
    if (external_id.empty() || external_id.size() > OSAGO_OUTCOME_MAX_EXTERNAL_ID)
      throw PluginError(OSAGO_STATUS_PERMANENT, "the partner's purchase id is " + std::to_string(external_id.size()) +
                                                    " bytes; the host keeps 1 to " +
                                                    std::to_string(OSAGO_OUTCOME_MAX_EXTERNAL_ID));
    return nlohmann::json{{"v", 1}, {"outcome", outcome}, {"externalId", std::move(external_id)}};
  }
  /// `url` if the host can show it to the buyer (isShowableLink); otherwise the partner's PERMANENT error.
  static std::string link(std::string url, const char* what) {
    if (!isShowableLink(url))
      throw PluginError(OSAGO_STATUS_PERMANENT, std::string("the partner's ") + what + " '" +
                                                    Outcome::clipped(url, 80) + "' is not an absolute http(s) URL of at most " +
                                                    std::to_string(OSAGO_PURCHASE_MAX_URL) + " bytes that a buyer can be shown");
    return url;
  }
  nlohmann::json json_;
};

/// Formats hundredths as a decimal string with two fraction digits: money in
/// kopecks becomes the canonical rubles string (1139393 → "11393.93").
inline std::string rublesFromKopecks(std::int64_t kopecks) {
  std::string sign = kopecks < 0 ? "-" : "";
  std::int64_t a = kopecks < 0 ? -kopecks : kopecks;
  std::int64_t cents = a % 100;
  return sign + std::to_string(a / 100) + (cents < 10 ? ".0" : ".") + std::to_string(cents);
}

namespace detail {

inline void replyError(const osago_call* call, const char* message) noexcept {
  try {
    std::string body = nlohmann::json{{"message", message}}.dump();
    call->reply(call->host_call_ctx, toAbi(body));
  } catch (...) {
    // Out of memory while reporting an error: the status code alone goes back.
  }
}

/// The fail-closed barrier: runs `fn`, turning every exception into a status.
template <typename Fn>
osago_status barrier(const osago_call* call, Fn&& fn) noexcept {
  try {
    return fn();
  } catch (const PluginError& e) {
    if (call) replyError(call, e.what());
    return e.status();
  } catch (const nlohmann::json::exception& e) {
    if (call) replyError(call, (std::string("malformed JSON: ") + e.what()).c_str());
    return OSAGO_STATUS_PERMANENT;
  } catch (const std::exception& e) {
    if (call) replyError(call, e.what());
    return OSAGO_STATUS_INTERNAL;
  } catch (...) {
    if (call) replyError(call, "unknown exception in plugin");
    return OSAGO_STATUS_INTERNAL;
  }
}

/// A plugin class that sells policies too (ABI 1.2).
template <typename Impl>
concept Purchasable = requires(Impl& impl, const Call& call, const nlohmann::json& purchase, const std::string& id) {
  { impl.issue(call, purchase) } -> std::same_as<PurchaseOutcome>;
  { impl.issuePoll(call, id) } -> std::same_as<PurchaseOutcome>;
};

template <typename Impl>
struct Exports {
  static osago_status create(const osago_host_api* host, osago_str config_json, void** instance_out) noexcept {
    try {
      if (!host || !instance_out) return OSAGO_STATUS_INVALID_INPUT;
      auto config = nlohmann::json::parse(fromAbi(config_json));
      *instance_out = new Impl(Host(host), config);
      return OSAGO_STATUS_OK;
    } catch (const std::exception& e) {
      try {
        Host(host).log(OSAGO_LOG_ERROR, std::string("plugin create failed: ") + e.what());
      } catch (...) {
      }
      return OSAGO_STATUS_INVALID_INPUT;
    } catch (...) {
      return OSAGO_STATUS_INTERNAL;
    }
  }
  /// Hands an Outcome or a PurchaseOutcome to the host as its JSON text.
  template <typename Document>
  static void reply(const osago_call* call, const Document& document) {
    std::string body = document.json().dump();
    call->reply(call->host_call_ctx, toAbi(body));
  }
  static osago_status submit(void* instance, const osago_call* call, osago_str quote_json) noexcept {
    return barrier(call, [&] {
      auto quote = nlohmann::json::parse(fromAbi(quote_json));
      reply(call, static_cast<Impl*>(instance)->submit(Call(call), quote));
      return OSAGO_STATUS_OK;
    });
  }
  static osago_status poll(void* instance, const osago_call* call, osago_str external_id) noexcept {
    return barrier(call, [&] {
      reply(call, static_cast<Impl*>(instance)->poll(Call(call), fromAbi(external_id)));
      return OSAGO_STATUS_OK;
    });
  }
  static osago_status issue(void* instance, const osago_call* call, osago_str purchase_json) noexcept {
    return barrier(call, [&] {
      auto purchase = nlohmann::json::parse(fromAbi(purchase_json));
      reply(call, static_cast<Impl*>(instance)->issue(Call(call), purchase));
      return OSAGO_STATUS_OK;
    });
  }
  static osago_status issuePoll(void* instance, const osago_call* call, osago_str external_purchase_id) noexcept {
    return barrier(call, [&] {
      reply(call, static_cast<Impl*>(instance)->issuePoll(Call(call), fromAbi(external_purchase_id)));
      return OSAGO_STATUS_OK;
    });
  }
  /// The table's issue entries: the functions above for a Purchasable class, NULL otherwise.
  static constexpr auto issueEntry() {
    if constexpr (Purchasable<Impl>) return &Exports::issue;
    else return static_cast<decltype(&Exports::issue)>(nullptr);
  }
  static constexpr auto issuePollEntry() {
    if constexpr (Purchasable<Impl>) return &Exports::issuePoll;
    else return static_cast<decltype(&Exports::issuePoll)>(nullptr);
  }
  static void destroy(void* instance) noexcept {
    try {
      delete static_cast<Impl*>(instance);
    } catch (...) {
      // A throwing destructor must not cross the ABI.
    }
  }
};

/// The plugin table of class `Impl` (what OSAGO_PLUGIN's entry returns).
template <typename Impl>
const osago_plugin_api* pluginTable(const char* id, const char* name, const char* version) {
  static const osago_plugin_api api = {
      sizeof(osago_plugin_api), OSAGO_PLUGIN_ABI_MAJOR,         OSAGO_PLUGIN_ABI_MINOR,
      id,                       name,                           version,
      &Exports<Impl>::create,   &Exports<Impl>::submit,         &Exports<Impl>::poll,
      &Exports<Impl>::destroy,  Exports<Impl>::issueEntry(),    Exports<Impl>::issuePollEntry(),
  };
  return &api;
}

}  // namespace detail
}  // namespace osago::sdk

#if defined(__GNUC__)
#define OSAGO_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define OSAGO_PLUGIN_EXPORT
#endif

/// Defines the plugin's entry symbol for class `Impl`.
#define OSAGO_PLUGIN(Impl, id, name, version)                                                   \
  extern "C" OSAGO_PLUGIN_EXPORT const osago_plugin_api* osago_plugin_entry(uint16_t, uint16_t) { \
    return ::osago::sdk::detail::pluginTable<Impl>(id, name, version);                            \
  }
