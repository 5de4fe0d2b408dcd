// A fake host services table for plugin unit tests: canned HTTP responses,
// a fixed clock, captured log lines. No network, no threads.
#pragma once

#include <osago/plugin_abi.h>
#include <osago/plugin_sdk/plugin.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <deque>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace osago::testing {

/// One request the plugin made, as the fake host saw it.
struct RecordedRequest {
  std::string method;
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  std::string header(const std::string& name) const {
    for (const auto& [n, v] : headers)
      if (n == name) return v;
    return {};
  }
};

/// What a plugin call returned: the status and the JSON it replied with.
struct CallResult {
  osago_status status = OSAGO_STATUS_INTERNAL;
  nlohmann::json reply;
  std::string reply_text;  ///< the reply as the plugin wrote it (what the host parses)
};

/// Not thread-safe: one test drives one plugin instance.
class FakeHost {
 public:
  /// `secrets`: what secret_get answers (more may be added to `secrets` later).
  explicit FakeHost(std::map<std::string, std::string> initial_secrets = {}) : secrets(std::move(initial_secrets)) {
    api_.struct_size = sizeof(api_);
    api_.abi_major = OSAGO_PLUGIN_ABI_MAJOR;
    api_.abi_minor = OSAGO_PLUGIN_ABI_MINOR;
    api_.host_ctx = this;
    api_.log = &FakeHost::logThunk;
    api_.now_unix_ms = &FakeHost::nowThunk;
    api_.http_call = &FakeHost::httpThunk;
    api_.secret_get = &FakeHost::secretThunk;
  }
  FakeHost(const FakeHost&) = delete;
  FakeHost& operator=(const FakeHost&) = delete;

  const osago_host_api* api() const { return &api_; }

  /// Queues the next HTTP response; responses are consumed in order.
  void respond(int status_code, std::string body, std::string retry_after = {}) {
    responses_.push_back({status_code, std::move(body), "application/json", std::move(retry_after)});
  }
  /// Makes the next HTTP call fail with `status` (e.g. OSAGO_STATUS_TIMEOUT).
  void failNext(osago_status status) { failures_.push_back(status); }

  std::int64_t now_unix_ms = 1'800'000'000'000;
  /// What each call's osago_call.traceparent says (ABI 1.1).
  std::string traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  std::map<std::string, std::string> secrets;  ///< what secret_get answers
  std::vector<RecordedRequest> requests;
  std::vector<std::string> logs;

  /// Calls submit() on `plugin`/`instance` with `quote`.
  CallResult submit(const osago_plugin_api* plugin, void* instance, const nlohmann::json& quote) {
    return submitText(plugin, instance, quote.dump());
  }
  /// Calls submit() with the quote as the host passes it: its JSON text.
  CallResult submitText(const osago_plugin_api* plugin, void* instance, const std::string& quote_json) {
    return invoke([&](const osago_call* call) { return plugin->submit(instance, call, sdk::toAbi(quote_json)); });
  }
  /// Calls poll() on `plugin`/`instance` with `external_id`.
  CallResult poll(const osago_plugin_api* plugin, void* instance, const std::string& external_id) {
    return invoke([&](const osago_call* call) { return plugin->poll(instance, call, sdk::toAbi(external_id)); });
  }
  /// Whether `plugin`'s table has the purchase entries (ABI 1.2).
  static bool purchasable(const osago_plugin_api* plugin) {
    return OSAGO_PLUGIN_PURCHASABLE(plugin);
  }
  /// Calls issue() with the purchase document; throws std::logic_error when the plugin has none.
  CallResult issue(const osago_plugin_api* plugin, void* instance, const nlohmann::json& purchase) {
    if (!purchasable(plugin)) throw std::logic_error("FakeHost: the plugin has no issue entry");
    std::string body = purchase.dump();
    return invoke([&](const osago_call* call) { return plugin->issue(instance, call, sdk::toAbi(body)); });
  }
  /// Calls issue_poll() with the partner's purchase id.
  CallResult issuePoll(const osago_plugin_api* plugin, void* instance, const std::string& external_purchase_id) {
    if (!purchasable(plugin)) throw std::logic_error("FakeHost: the plugin has no issue_poll entry");
    return invoke(
        [&](const osago_call* call) { return plugin->issue_poll(instance, call, sdk::toAbi(external_purchase_id)); });
  }

 private:
  struct CallCtx {
    FakeHost* host;
    std::string reply;
    std::deque<sdk::HttpResponse> kept;  // owns response bodies during the call
  };

  template <typename Fn>
  CallResult invoke(Fn fn) {
    CallCtx ctx{this, {}, {}};
    osago_call call{};
    call.struct_size = sizeof(call);
    call.correlation_id = sdk::toAbi("test-correlation");
    call.traceparent = sdk::toAbi(traceparent);
    call.deadline_unix_ms = now_unix_ms + 60'000;
    call.host_call_ctx = &ctx;
    call.reply = [](void* c, osago_str json) { static_cast<CallCtx*>(c)->reply = sdk::fromAbi(json); };
    CallResult result;
    result.status = fn(&call);
    if (!ctx.reply.empty()) result.reply = nlohmann::json::parse(ctx.reply);
    result.reply_text = std::move(ctx.reply);
    return result;
  }

  static void logThunk(void* host, osago_log_level, osago_str message) {
    static_cast<FakeHost*>(host)->logs.push_back(sdk::fromAbi(message));
  }
  static osago_status secretThunk(void* host, osago_str name, osago_str* value) {
    auto* self = static_cast<FakeHost*>(host);
    auto it = self->secrets.find(sdk::fromAbi(name));
    if (it == self->secrets.end()) return OSAGO_STATUS_INVALID_INPUT;
    *value = sdk::toAbi(it->second);
    return OSAGO_STATUS_OK;
  }
  static std::int64_t nowThunk(void* host) { return static_cast<FakeHost*>(host)->now_unix_ms; }
  static osago_status httpThunk(void* call_ctx, const osago_http_request* req, osago_http_response* resp) {
    auto* ctx = static_cast<CallCtx*>(call_ctx);
    FakeHost* self = ctx->host;
    RecordedRequest rec{sdk::fromAbi(req->method), sdk::fromAbi(req->url), {}, sdk::fromAbi(req->body)};
    for (size_t i = 0; i < req->header_count; ++i)
      rec.headers.emplace_back(sdk::fromAbi(req->headers[i].name), sdk::fromAbi(req->headers[i].value));
    self->requests.push_back(std::move(rec));
    if (!self->failures_.empty()) {
      osago_status s = self->failures_.front();
      self->failures_.pop_front();
      return s;
    }
    if (self->responses_.empty()) throw std::logic_error("FakeHost: no response queued for " + self->requests.back().url);
    ctx->kept.push_back(std::move(self->responses_.front()));
    self->responses_.pop_front();
    const auto& r = ctx->kept.back();
    resp->status_code = r.status_code;
    resp->body = sdk::toAbi(r.body);
    resp->content_type = sdk::toAbi(r.content_type);
    resp->retry_after = sdk::toAbi(r.retry_after);
    return OSAGO_STATUS_OK;
  }

  osago_host_api api_{};
  std::deque<sdk::HttpResponse> responses_;
  std::deque<osago_status> failures_;
};

/// A plugin instance created through the plugin's real ABI table with `host`,
/// destroyed at the end of the scope. Throws std::runtime_error when create() fails.
class PluginUnderTest {
 public:
  PluginUnderTest(const osago_plugin_api* api, FakeHost& host, const nlohmann::json& settings)
      : api_(api), host_(host) {
    std::string text = settings.dump();
    osago_status status = api_->create(host_.api(), sdk::toAbi(text), &instance_);
    if (status != OSAGO_STATUS_OK || !instance_)
      throw std::runtime_error("create() failed with status " + std::to_string(status) +
                               (host_.logs.empty() ? std::string() : ": " + host_.logs.back()));
  }
  ~PluginUnderTest() { api_->destroy(instance_); }
  PluginUnderTest(const PluginUnderTest&) = delete;
  PluginUnderTest& operator=(const PluginUnderTest&) = delete;

  CallResult submit(const nlohmann::json& quote) { return host_.submit(api_, instance_, quote); }
  CallResult submitText(const std::string& quote_json) { return host_.submitText(api_, instance_, quote_json); }
  CallResult poll(const std::string& external_id) { return host_.poll(api_, instance_, external_id); }
  bool purchasable() const { return FakeHost::purchasable(api_); }
  CallResult issue(const nlohmann::json& purchase) { return host_.issue(api_, instance_, purchase); }
  CallResult issuePoll(const std::string& external_purchase_id) {
    return host_.issuePoll(api_, instance_, external_purchase_id);
  }
  const osago_plugin_api& api() const { return *api_; }

 private:
  const osago_plugin_api* api_;
  FakeHost& host_;
  void* instance_ = nullptr;
};

/// A purchase document as the host sends it to issue() (docs/plugin-abi.md,
/// "Purchase documents"): purchase 5b0c5a0e-… of application "app-17", whose
/// offer was "app-17-1" at 12371.81 RUB, for `quote`, by ivanov@example.ru, +79001234567.
inline nlohmann::json samplePurchase(nlohmann::json quote = nlohmann::json{{"v", 1}}) {
  return {{"v", 1},
          {"purchaseId", "5b0c5a0e-0d5c-4a55-9a43-3e1c2f8b7a61"},
          {"applicationId", "app-17"},
          {"offer", {{"premium", {{"amount", "12371.81"}, {"currency", "RUB"}}}, {"offerId", "app-17-1"}}},
          {"quote", std::move(quote)},
          {"buyer", {{"email", "ivanov@example.ru"}, {"phone", "+79001234567"}}}};
}

}  // namespace osago::testing
