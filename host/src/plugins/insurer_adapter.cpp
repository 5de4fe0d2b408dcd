#include "plugins/insurer_adapter.hpp"

#include <osago/common/http_client.hpp>
#include <osago/common/metrics.hpp>

#include <Poco/Logger.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <deque>

namespace osago::host {
namespace {

std::string str(osago_str s) { return s.data ? std::string(s.data, s.len) : std::string(); }
osago_str abi(const std::string& s) { return osago_str{s.data(), s.size()}; }

using SystemClock = std::chrono::system_clock;

}  // namespace

/// A created plugin instance for one company with the host services it
/// sees. Shared by the adapter and by calls in flight, so that a call that
/// outlives its adapter (a hanging plugin) still has a live instance and library.
class PluginInstance {
 public:
  PluginInstance(CompanyConfig company, std::shared_ptr<PluginLibrary> library)
      : company_(std::move(company)), library_(std::move(library)), log_(Poco::Logger::get("plugin." + company_.id)) {
    host_api_.struct_size = sizeof(host_api_);
    host_api_.abi_major = OSAGO_PLUGIN_ABI_MAJOR;
    host_api_.abi_minor = OSAGO_PLUGIN_ABI_MINOR;
    host_api_.host_ctx = this;
    host_api_.log = &PluginInstance::hostLog;
    host_api_.now_unix_ms = &PluginInstance::hostNow;
    host_api_.http_call = &PluginInstance::hostHttp;
    host_api_.secret_get = &PluginInstance::hostSecret;
    std::string settings = company_.settings.dump();
    osago_status status = library_->api().create(&host_api_, abi(settings), &instance_);
    if (status != OSAGO_STATUS_OK || !instance_)
      throw PluginLoadError("company " + company_.id + ": plugin " + library_->id() + " refused its settings (status " +
                            std::to_string(status) + "; see the plugin." + company_.id + " log lines)");
  }
  ~PluginInstance() { library_->api().destroy(instance_); }

  /// Per-call state, shared with the task that runs the call.
  struct CallState {
    PluginInstance* instance = nullptr;
    SystemClock::time_point call_deadline;
    std::string correlation_id;
    std::string reply;
    bool replied = false;
    osago_status status = OSAGO_STATUS_INTERNAL;
    std::deque<http::ClientResponse> responses;  // keeps bodies alive until the plugin call returns
  };

  /// Runs submit or poll on the calling thread, filling `state`.
  void call(CallState& state, bool is_submit, const std::string& argument) {
    osago_call c{};
    c.struct_size = sizeof(c);
    c.correlation_id = abi(state.correlation_id);
    c.deadline_unix_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(state.call_deadline.time_since_epoch()).count();
    c.host_call_ctx = &state;
    c.reply = [](void* ctx, osago_str json) {
      auto* s = static_cast<CallState*>(ctx);
      s->reply = str(json);
      s->replied = true;
    };
    state.status = is_submit ? library_->api().submit(instance_, &c, abi(argument))
                             : library_->api().poll(instance_, &c, abi(argument));
  }

  const CompanyConfig& company() const { return company_; }
  const PluginLibrary& library() const { return *library_; }
  Poco::Logger& log() { return log_; }

 private:
  static void hostLog(void* host_ctx, osago_log_level level, osago_str message) {
    auto* self = static_cast<PluginInstance*>(host_ctx);
    std::string text = str(message);
    switch (level) {
      case OSAGO_LOG_DEBUG: self->log_.debug(text); break;
      case OSAGO_LOG_INFO: self->log_.information(text); break;
      case OSAGO_LOG_WARNING: self->log_.warning(text); break;
      default: self->log_.error(text); break;
    }
  }

  static std::int64_t hostNow(void*) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(SystemClock::now().time_since_epoch()).count();
  }

  static osago_status hostSecret(void* host_ctx, osago_str name, osago_str* value) {
    auto* self = static_cast<PluginInstance*>(host_ctx);
    if (!value) return OSAGO_STATUS_INVALID_INPUT;
    auto it = self->company_.secrets.find(str(name));
    if (it == self->company_.secrets.end()) return OSAGO_STATUS_INVALID_INPUT;
    *value = abi(it->second);
    return OSAGO_STATUS_OK;
  }

  static osago_status hostHttp(void* call_ctx, const osago_http_request* request, osago_http_response* response) {
    auto* state = static_cast<CallState*>(call_ctx);
    if (!state || !request || !response) return OSAGO_STATUS_INVALID_INPUT;
    // The timeout is the smaller of the plugin's wish and what is left of this call's budget,
    // which itself never reaches past the request's deadline.
    auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(state->call_deadline - SystemClock::now());
    if (request->timeout_ms > 0) timeout = std::min(timeout, std::chrono::milliseconds(request->timeout_ms));
    if (timeout.count() <= 0) return OSAGO_STATUS_TIMEOUT;
    http::ClientRequest req;
    req.method = str(request->method);
    req.url = str(request->url);
    for (std::size_t i = 0; i < request->header_count; ++i) {
      std::string name = str(request->headers[i].name);
      if (name == "Content-Type")
        req.content_type = str(request->headers[i].value);
      else
        req.headers.emplace_back(std::move(name), str(request->headers[i].value));
    }
    req.body = str(request->body);
    req.timeout = timeout;
    try {
      state->responses.push_back(http::call(req));
    } catch (const http::ClientError& e) {
      state->instance->log_.warning("[" + state->correlation_id + "] " + e.what());
      return e.timedOut() ? OSAGO_STATUS_TIMEOUT : OSAGO_STATUS_TRANSIENT;
    }
    const auto& r = state->responses.back();
    response->status_code = r.status;
    response->body = abi(r.body);
    if (response->struct_size >= offsetof(osago_http_response, retry_after) + sizeof(osago_str)) {
      response->content_type = abi(r.content_type);
      response->retry_after = abi(r.retry_after);
    }
    return OSAGO_STATUS_OK;
  }

  CompanyConfig company_;
  std::shared_ptr<PluginLibrary> library_;
  osago_host_api host_api_{};
  void* instance_ = nullptr;
  Poco::Logger& log_;
};

namespace {

/// The outcome of a call that returned, from its status and reply.
PartnerOutcome outcomeOf(const PluginInstance::CallState& call, const std::string& where) {
  const auto* state = &call;
  std::string detail;
  if (!state->reply.empty()) {
    auto j = nlohmann::json::parse(state->reply, nullptr, false);
    detail = j.is_object() && j.contains("message") && j["message"].is_string() ? j["message"].get<std::string>() : state->reply;
  }
  switch (state->status) {
    case OSAGO_STATUS_OK:
      if (!state->replied) return PartnerOutcome::failed("PLUGIN_ERROR", where + ": returned OK without an outcome");
      return parseOutcome(state->reply);
    case OSAGO_STATUS_TRANSIENT:
      return PartnerOutcome::failed("PARTNER_UNAVAILABLE", where + ": " + detail, true);
    case OSAGO_STATUS_TIMEOUT:
      return PartnerOutcome::failed("PARTNER_TIMEOUT", where + ": " + detail, true);
    case OSAGO_STATUS_INVALID_INPUT:
      return PartnerOutcome::failed("PARTNER_REJECTED_INPUT", where + ": " + detail);
    case OSAGO_STATUS_PERMANENT:
      return PartnerOutcome::failed("PARTNER_ERROR", where + ": " + detail);
    default:
      return PartnerOutcome::failed("PLUGIN_ERROR", where + ": status " + std::to_string(state->status) + ": " + detail);
  }
}

}  // namespace

InsurerAdapter::InsurerAdapter(CompanyConfig company, std::shared_ptr<PluginLibrary> library,
                               std::shared_ptr<PartnerHealth> health)
    : instance_(std::make_shared<PluginInstance>(company, std::move(library))),
      health_(health ? std::move(health) : std::make_shared<PartnerHealth>(company.breaker, company.retry_budget)),
      executor_(company.id, company.max_concurrent_calls, company.max_queued_calls) {}

bool isPartnerFailure(const PartnerOutcome& o) {
  if (o.kind != PartnerOutcome::Kind::Failed) return false;
  return o.code == "PARTNER_UNAVAILABLE" || o.code == "PARTNER_TIMEOUT" || o.code == "PARTNER_ERROR" ||
         o.code == "PLUGIN_ERROR" || o.code == "PLUGIN_HUNG";
}

InsurerAdapter::~InsurerAdapter() = default;

const CompanyConfig& InsurerAdapter::company() const { return instance_->company(); }
const PluginLibrary& InsurerAdapter::library() const { return instance_->library(); }

namespace {

prometheus::Family<prometheus::Counter>& callsMetric() {
  static auto& f = metrics::counter("osago_partner_calls_total",
                                    "Partner calls by company, operation (submit, poll) and outcome: offer, pending, "
                                    "declined, or the failure code in lower case (partner_timeout, circuit_open, ...)");
  return f;
}

prometheus::Family<prometheus::Histogram>& latencyMetric() {
  static auto& f = metrics::histogram("osago_partner_call_duration_seconds",
                                      "Latency of partner calls that reached the plugin, by company and operation");
  return f;
}

std::string outcomeLabel(const PartnerOutcome& out) {
  switch (out.kind) {
    case PartnerOutcome::Kind::Offer: return "offer";
    case PartnerOutcome::Kind::Pending: return "pending";
    case PartnerOutcome::Kind::Declined: return "declined";
    case PartnerOutcome::Kind::Failed: break;
  }
  std::string code = out.code;
  std::transform(code.begin(), code.end(), code.begin(), [](unsigned char c) { return std::tolower(c); });
  return code;
}

}  // namespace

void InsurerAdapter::count(const char* operation, const PartnerOutcome& out) const {
  callsMetric().Add({{"company", company().id}, {"operation", operation}, {"outcome", outcomeLabel(out)}}).Increment();
}

PartnerOutcome InsurerAdapter::invoke(const CallContext& ctx, const char* operation, bool is_submit, std::string argument) {
  const auto& company = instance_->company();
  auto state = std::make_shared<PluginInstance::CallState>();
  state->instance = instance_.get();
  state->call_deadline = std::min(SystemClock::now() + company.call_timeout, ctx.deadline);
  state->correlation_id = ctx.correlation_id;
  std::string where = std::string(operation) + " via plugin " + instance_->library().id();

  // The call runs on the company's own threads; the task owns what it touches,
  // so a plugin that never returns cannot take the caller or the host with it.
  auto instance = instance_;
  auto task = [instance, state, is_submit, argument = std::move(argument)] { instance->call(*state, is_submit, argument); };
  auto started = std::chrono::steady_clock::now();
  if (!health_->breaker.tryAcquire(started)) {
    ++health_->circuit_open;
    // New work fails fast; a request already at the partner waits for the breaker to close.
    return PartnerOutcome::notCalled("CIRCUIT_OPEN", company.name + " is failing too often; calls are paused for a while",
                                     /*retryable=*/!is_submit);
  }
  auto grace = std::chrono::milliseconds(500);  // the host's own HTTP timeouts end inside the budget
  auto wait_until = started +
                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(state->call_deadline - SystemClock::now()) +
                    grace;
  PartnerOutcome out;
  switch (executor_.run(std::move(task), wait_until)) {
    case CompanyExecutor::Result::kRejected:
      health_->breaker.release();
      ++health_->bulkhead_full;
      return PartnerOutcome::notCalled("BULKHEAD_FULL", where + ": all " + std::to_string(company.max_concurrent_calls) +
                                                            " call slots and the queue of this company are taken", true);
    case CompanyExecutor::Result::kTimedOut:
      instance_->log().error("[" + ctx.correlation_id + "] " + where + " did not return within its budget of " +
                             std::to_string(company.call_timeout.count()) + " ms; the call is abandoned");
      out = PartnerOutcome::failed("PLUGIN_HUNG", where + ": the plugin did not return in time", true);
      break;
    case CompanyExecutor::Result::kDone:
      out = outcomeOf(*state, where);
      break;
  }
  auto now = std::chrono::steady_clock::now();
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - started);
  bool failed = isPartnerFailure(out);
  health_->breaker.record(failed, elapsed, now);
  health_->latency.add(elapsed);
  latencyMetric()
      .Add({{"company", company.id}, {"operation", operation}}, metrics::latencyBuckets())
      .Observe(std::chrono::duration<double>(now - started).count());
  ++health_->calls;
  if (failed) {
    ++health_->failures;
    health_->retry_budget.onFailure();
  } else {
    health_->retry_budget.onSuccess();
  }
  return out;
}

PartnerOutcome InsurerAdapter::submit(const CallContext& ctx, const std::string& quote_json) {
  auto out = invoke(ctx, "submit", true, quote_json);
  if ((out.kind == PartnerOutcome::Kind::Pending || out.kind == PartnerOutcome::Kind::Offer) && out.external_id.empty())
    out = PartnerOutcome::failed("PLUGIN_ERROR", "submit via plugin " + library().id() + ": outcome has no externalId");
  count("submit", out);
  return out;
}

PartnerOutcome InsurerAdapter::poll(const CallContext& ctx, const std::string& external_id) {
  auto out = invoke(ctx, "poll", false, external_id);
  if (out.external_id.empty()) out.external_id = external_id;
  count("poll", out);
  return out;
}

PartnerOutcome parseOutcome(const std::string& json_text) {
  auto j = nlohmann::json::parse(json_text, nullptr, false);
  if (!j.is_object()) return PartnerOutcome::failed("PLUGIN_ERROR", "plugin outcome is not a JSON object");
  std::string kind = j.value("outcome", "");
  PartnerOutcome out;
  if (j.contains("externalId") && j["externalId"].is_string()) out.external_id = j["externalId"].get<std::string>();
  if (j.contains("retryAfterMs") && j["retryAfterMs"].is_number_integer())
    out.retry_after = std::chrono::milliseconds(std::max<long long>(0, j["retryAfterMs"].get<long long>()));
  if (kind == "PENDING") {
    out.kind = PartnerOutcome::Kind::Pending;
    return out;
  }
  if (kind == "OFFER") {
    out.kind = PartnerOutcome::Kind::Offer;
    out.offer = j.value("offer", nlohmann::json());
    const auto* premium = out.offer.is_object() && out.offer.contains("premium") && out.offer["premium"].is_object()
                              ? &out.offer["premium"]
                              : nullptr;
    if (!premium || !premium->value("amount", nlohmann::json()).is_string())
      return PartnerOutcome::failed("PLUGIN_ERROR", "plugin offer has no premium.amount string");
    return out;
  }
  if (kind == "DECLINED") {
    out.kind = PartnerOutcome::Kind::Declined;
    out.code = j.value("reason", "DECLINED");
    out.message = j.value("message", "");
    return out;
  }
  return PartnerOutcome::failed("PLUGIN_ERROR", "plugin outcome has unknown kind '" + kind + "'");
}

}  // namespace osago::host
