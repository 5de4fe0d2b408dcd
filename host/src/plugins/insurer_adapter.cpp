#include "plugins/insurer_adapter.hpp"

#include "plugins/plugin_worker.hpp"

#include <osago/common/http_client.hpp>
#include <osago/common/metrics.hpp>
#include <osago/common/ids.hpp>
#include <osago/common/outside_json.hpp>
#include <osago/common/trace_context.hpp>

#include <Poco/Logger.h>
#include <Poco/String.h>
#include <Poco/URI.h>

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
    std::string trace_id;
    std::string traceparent;  ///< for the plugin's osago_call: a span of this call in the quote's trace
    std::string reply;
    osago_status status = OSAGO_STATUS_INTERNAL;
    int replies = 0;
    bool refused = false;            // the host refused an HTTP request (a host outside the manifest)
    std::deque<HttpAnswer> answers;  // keeps bodies alive until the plugin call returns
  };

  /// Runs one operation (submit, poll, issue, issue_poll) on the calling thread, filling `state`.
  void call(CallState& state, const std::string& operation, const std::string& argument) {
    osago_call c{};
    c.struct_size = sizeof(c);
    c.correlation_id = abi(state.correlation_id);
    c.traceparent = abi(state.traceparent);
    c.deadline_unix_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(state.call_deadline.time_since_epoch()).count();
    c.host_call_ctx = &state;
    c.reply = [](void* ctx, osago_str json) {
      auto* s = static_cast<CallState*>(ctx);
      if (++s->replies == 1) s->reply = str(json);
    };
    const osago_plugin_api& api = library_->api();
    if (operation == "submit")
      state.status = api.submit(instance_, &c, abi(argument));
    else if (operation == "poll")
      state.status = api.poll(instance_, &c, abi(argument));
    else if (OSAGO_PLUGIN_PURCHASABLE(&api) && operation == "issue")
      state.status = api.issue(instance_, &c, abi(argument));
    else if (OSAGO_PLUGIN_PURCHASABLE(&api) && operation == "issue_poll")
      state.status = api.issue_poll(instance_, &c, abi(argument));
    else
      state.status = OSAGO_STATUS_INTERNAL;  // never asked: InsurerAdapter checks purchasable() first
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
    HttpAsk ask;
    ask.method = str(request->method);
    ask.url = str(request->url);
    for (std::size_t i = 0; i < request->header_count; ++i)
      ask.headers.emplace_back(str(request->headers[i].name), str(request->headers[i].value));
    ask.body = str(request->body);
    ask.timeout_ms = request->timeout_ms;
    state->answers.push_back(brokerHttp(state->instance->company_, state->call_deadline, ask, state->correlation_id, state->trace_id));
    const auto& a = state->answers.back();
    state->refused = state->refused || a.refused;
    if (a.status != OSAGO_STATUS_OK) return a.status;
    response->status_code = a.status_code;
    response->body = abi(a.body);
    if (response->struct_size >= offsetof(osago_http_response, retry_after) + sizeof(osago_str)) {
      response->content_type = abi(a.content_type);
      response->retry_after = abi(a.retry_after);
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

/// The outcome of a call that returned, from its status and reply (and what the
/// worker found wrong with it: two replies, one too large, an exception).
PartnerOutcome outcomeOf(osago_status status, int replies, const std::string& reply, const std::string& note,
                         const std::string& where, const ReplyReader& read) {
  if (!note.empty()) return PartnerOutcome::failed(FailureCode::kPluginError, where + ": " + note);
  if (replies > 1)
    return PartnerOutcome::failed(FailureCode::kPluginError, where + ": the plugin called reply " + std::to_string(replies) +
                                                      " times (exactly once is allowed)");
  std::string detail;
  if (!reply.empty()) {
    auto j = parseOutside(reply);
    detail = j.is_object() && j.contains("message") && j["message"].is_string() ? j["message"].get<std::string>()
                                                                                 : reply.substr(0, 300);  // failed() clips to UTF-8
  }
  switch (status) {
    case OSAGO_STATUS_OK:
      if (replies == 0) return PartnerOutcome::failed(FailureCode::kPluginError, where + ": returned OK without an outcome");
      return read(reply);
    case OSAGO_STATUS_TRANSIENT:
      return PartnerOutcome::failed(FailureCode::kPartnerUnavailable, where + ": " + detail, true);
    case OSAGO_STATUS_TIMEOUT:
      return PartnerOutcome::failed(FailureCode::kPartnerTimeout, where + ": " + detail, true);
    case OSAGO_STATUS_INVALID_INPUT:
      return PartnerOutcome::failed(FailureCode::kPartnerRejectedInput, where + ": " + detail);
    case OSAGO_STATUS_PERMANENT:
      return PartnerOutcome::failed(FailureCode::kPartnerError, where + ": " + detail);
    default:
      return PartnerOutcome::failed(FailureCode::kPluginError, where + ": status " + std::to_string(status) + ": " + detail);
  }
}

/// Why the host will not send a plugin's request to `url` (empty: it may).
std::string refusal(const CompanyConfig& company, const std::string& url, const std::optional<PartnerTarget>& target) {
  if (!target) return "'" + url.substr(0, 200) + "' is no http(s) URL";
  if (std::find(company.allowed_hosts.begin(), company.allowed_hosts.end(), target->hostPort()) ==
      company.allowed_hosts.end())
    return "'" + target->hostPort() + "' is not a host of company " + company.id +
           " in its manifest (the URLs of its settings and allowed_hosts)";
  if (target->scheme == "http" && !plainHttpAllowed(company.http, *target))
    return "plain http:// to " + target->hostPort() +
           ": partner calls go over https (plain http only to loopback, with plugins.partner_http.plain_http_to_loopback)";
  return "";
}

bool isRedirect(int status) { return status == 301 || status == 302 || status == 303 || status == 307 || status == 308; }

}  // namespace

HttpAnswer brokerHttp(const CompanyConfig& company, SystemClock::time_point call_deadline, const HttpAsk& ask,
                      const std::string& correlation_id, const std::string& trace_id) {
  HttpAnswer answer;
  const std::string tag = logTag(correlation_id, trace_id);
  auto& log = Poco::Logger::get("plugin." + company.id);
  auto refuse = [&](const std::string& why) {
    countDenied(company.id, "egress");
    log.warning(tag + "refused the plugin's HTTP request: " + why);
    answer.status = OSAGO_STATUS_PERMANENT;
    answer.refused = true;
    return answer;
  };
  std::string url = ask.url;
  if (auto why = refusal(company, url, partnerTarget(url)); !why.empty()) return refuse(why);
  http::ClientRequest req;
  req.method = ask.method;
  bool traced = false;
  for (const auto& [name, value] : ask.headers) {
    if (name == "Content-Type")
      req.content_type = value;
    else
      req.headers.emplace_back(name, value);
    traced = traced || Poco::icompare(name, "traceparent") == 0;
  }
  // The quote's trace goes on to the partner (W3C Trace Context), from a span of this call, unless the plugin set one.
  if (!traced && isTraceId(trace_id)) req.headers.emplace_back("traceparent", TraceContext{trace_id, randomHex(8), true}.header());
  req.body = ask.body;
  req.max_body_bytes = company.http.max_response_bytes;
  req.tls = company.http.tls;
  for (int hop = 0;; ++hop) {
    // The timeout is the smaller of the plugin's wish and what is left of this call's budget,
    // which itself never reaches past the request's deadline; redirects spend the same budget.
    auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(call_deadline - SystemClock::now());
    if (ask.timeout_ms > 0) timeout = std::min(timeout, std::chrono::milliseconds(ask.timeout_ms));
    if (timeout.count() <= 0) {
      answer.status = OSAGO_STATUS_TIMEOUT;
      return answer;
    }
    req.url = url;
    req.timeout = timeout;
    answer.sent = true;
    http::ClientResponse r;
    try {
      r = http::call(req);
    } catch (const http::ClientError& e) {
      log.warning(tag + e.what());
      // An oversized answer will not shrink on retry.
      answer.status = e.timedOut() ? OSAGO_STATUS_TIMEOUT : e.tooLarge() ? OSAGO_STATUS_PERMANENT : OSAGO_STATUS_TRANSIENT;
      return answer;
    }
    if (isRedirect(r.status) && hop < company.http.max_redirects && !r.location.empty()) {
      std::string next;
      try {
        Poco::URI base(url);
        base.resolve(r.location);
        next = base.toString();
      } catch (const std::exception&) {
        return refuse("the redirect to '" + r.location.substr(0, 200) + "' is no URL");
      }
      auto to = partnerTarget(next);
      if (!to || to->scheme != "https") return refuse("a redirect to '" + next.substr(0, 200) + "' leaves https");
      if (auto why = refusal(company, next, to); !why.empty()) return refuse("redirected: " + why);
      if (r.status == 303 || ((r.status == 301 || r.status == 302) && req.method == "POST")) {
        req.method = "GET";  // as browsers do: the body is not sent again
        req.body.clear();
      }
      url = next;
      continue;
    }
    answer.status = OSAGO_STATUS_OK;
    answer.status_code = r.status;
    answer.body = std::move(r.body);
    answer.content_type = std::move(r.content_type);
    answer.retry_after = std::move(r.retry_after);
    return answer;
  }
}

namespace {

std::shared_ptr<PluginWorker> startWorker(const CompanyConfig& company, const PluginLibrary& library) {
  PluginWorker::Spec spec;
  spec.library_fd = library.loadedFile().fd();
  spec.library_path = library.loadedFrom().string();
  spec.company_id = company.id;
  spec.settings_json = company.settings.dump();
  spec.secrets = company.secrets;
  spec.threads = company.max_concurrent_calls;
  spec.limits = library.workerLimits();
  try {
    return std::make_shared<PluginWorker>(std::move(spec));
  } catch (const PluginLoadError& e) {
    throw PluginLoadError("company " + company.id + ": plugin " + library.id() + ": " + e.what());
  }
}

}  // namespace

InsurerAdapter::InsurerAdapter(CompanyConfig company, std::shared_ptr<PluginLibrary> library,
                               std::shared_ptr<PartnerHealth> health)
    : company_(company),
      library_(library),
      instance_(library->inProcess() ? std::make_shared<PluginInstance>(company, library) : nullptr),
      worker_(library->inProcess() ? nullptr : startWorker(company, *library)),
      health_(health ? std::move(health) : std::make_shared<PartnerHealth>(company.breaker, company.retry_budget)),
      // Out of process a call runs on its caller's thread: the worker, not an abandoned thread, bounds a hang.
      executor_(company.id, company.max_concurrent_calls, company.max_queued_calls, library->inProcess()) {}

bool isPartnerFailure(const PartnerOutcome& o) {
  if (o.kind != PartnerOutcome::Kind::Failed) return false;
  return o.failure == FailureCode::kPartnerUnavailable || o.failure == FailureCode::kPartnerTimeout || o.failure == FailureCode::kPartnerError ||
         o.failure == FailureCode::kPluginError || o.failure == FailureCode::kPluginHung || o.failure == FailureCode::kPluginCrashed ||
         o.failure == FailureCode::kPluginForbidden;
}

InsurerAdapter::~InsurerAdapter() = default;

const CompanyConfig& InsurerAdapter::company() const { return company_; }
const PluginLibrary& InsurerAdapter::library() const { return *library_; }
nlohmann::json InsurerAdapter::describeWorker() const { return worker_ ? worker_->describe() : nlohmann::json(); }
bool InsurerAdapter::workerUp() const { return !worker_ || worker_->up(); }

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
  std::string code = name(out.failure);
  std::transform(code.begin(), code.end(), code.begin(), [](unsigned char c) { return std::tolower(c); });
  return code;
}

/// A failure of a call that tried what partner code may not do says so.
void markForbidden(PartnerOutcome& out, const std::vector<std::string>& denied, bool egress_refused) {
  if (out.kind != PartnerOutcome::Kind::Failed || (denied.empty() && !egress_refused)) return;
  std::string what;
  for (const auto& d : denied) what += (what.empty() ? "" : ", ") + d;
  out.message = "the plugin tried what partner code may not do (" +
                (egress_refused ? std::string("an HTTP request the host refused: a host outside its manifest, or plain http")
                                : std::string()) +
                (egress_refused && !what.empty() ? "; " : "") +
                (what.empty() ? std::string() : "system calls refused by its sandbox: " + what) + "): " + out.message;
  out.failure = FailureCode::kPluginForbidden;
}

}  // namespace

void InsurerAdapter::count(const char* operation, const std::string& outcome) const {
  callsMetric().Add({{"company", company().id}, {"operation", operation}, {"outcome", outcome}}).Increment();
}

PartnerOutcome InsurerAdapter::runInProcess(const CallContext& ctx, const char* operation, std::string argument,
                                            const ReplyReader& read, SystemClock::time_point call_deadline,
                                            std::chrono::steady_clock::time_point started) {
  auto state = std::make_shared<PluginInstance::CallState>();
  state->instance = instance_.get();
  state->call_deadline = call_deadline;
  state->correlation_id = ctx.correlation_id;
  state->trace_id = ctx.trace_id;
  if (isTraceId(ctx.trace_id)) state->traceparent = TraceContext{ctx.trace_id, randomHex(8), true}.header();
  std::string where = std::string(operation) + " via plugin " + library_->id();
  // The call runs on the company's own threads; the task owns what it touches,
  // so a plugin that never returns cannot take the caller with it (its thread is lost).
  auto instance = instance_;
  auto task = [instance, state, operation = std::string(operation), argument = std::move(argument)] {
    instance->call(*state, operation, argument);
  };
  auto grace = std::chrono::milliseconds(500);  // the host's own HTTP timeouts end inside the budget
  auto wait_until = started +
                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(call_deadline - SystemClock::now()) +
                    grace;
  switch (executor_.run(std::move(task), wait_until)) {
    case CompanyExecutor::Result::kRejected:
      return PartnerOutcome::notCalled(FailureCode::kBulkheadFull, where + ": all " + std::to_string(company_.max_concurrent_calls) +
                                                            " call slots and the queue of this company are taken", true);
    case CompanyExecutor::Result::kTimedOut:
      instance_->log().error(logTag(ctx.correlation_id, ctx.trace_id) + where + " did not return within its budget of " +
                             std::to_string(company_.call_timeout.count()) + " ms; the call is abandoned");
      return PartnerOutcome::failed(FailureCode::kPluginHung, where + ": the plugin did not return in time", true);
    case CompanyExecutor::Result::kDone:
      break;
  }
  auto out = outcomeOf(state->status, state->replies, state->reply, "", where, read);
  markForbidden(out, {}, state->refused);
  return out;
}

PartnerOutcome InsurerAdapter::runInWorker(const CallContext& ctx, const char* operation, const std::string& argument,
                                           const ReplyReader& read, SystemClock::time_point call_deadline,
                                           std::chrono::steady_clock::time_point started) {
  std::string where = std::string(operation) + " via plugin " + library_->id();
  bool refused = false;
  WorkerCallResult result;
  auto worker = worker_;
  auto task = [&, worker] {
    result = worker->call(operation, ctx.correlation_id, call_deadline, argument, [&](const HttpAsk& ask) {
      auto answer = brokerHttp(company_, call_deadline, ask, ctx.correlation_id, ctx.trace_id);
      refused = refused || answer.refused;
      return answer;
    }, isTraceId(ctx.trace_id) ? TraceContext{ctx.trace_id, randomHex(8), true}.header() : std::string());
  };
  // The executor is the company's bulkhead (slots and a bounded queue); the call
  // runs on this thread, and the worker ends it by its budget (killed if need be).
  auto wait_until = started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(call_deadline - SystemClock::now());
  switch (executor_.runInline(task, wait_until)) {
    case CompanyExecutor::Result::kRejected:
      return PartnerOutcome::notCalled(FailureCode::kBulkheadFull, where + ": all " + std::to_string(company_.max_concurrent_calls) +
                                                            " call slots and the queue of this company are taken", true);
    case CompanyExecutor::Result::kTimedOut:
      // Every slot stayed busy for the whole budget: the partner's calls are stuck. As in process,
      // that counts against its breaker (PLUGIN_HUNG), though this call never started (safe to resend).
      return PartnerOutcome::notCalled(FailureCode::kPluginHung, where + ": waited its whole budget for one of the company's " +
                                                          std::to_string(company_.max_concurrent_calls) +
                                                          " call slots (its other calls are stuck)",
                                       true);
    case CompanyExecutor::Result::kDone:
      break;
  }
  PartnerOutcome out;
  switch (result.kind) {
    case WorkerCallResult::Kind::kReturned:
      out = outcomeOf(result.status, result.replies, result.reply, result.note, where, read);
      break;
    case WorkerCallResult::Kind::kHung:
      Poco::Logger::get("plugin." + company_.id)
          .error(logTag(ctx.correlation_id, ctx.trace_id) + where + " did not return within its budget of " +
                 std::to_string(company_.call_timeout.count()) + " ms; its worker was killed and is restarted");
      out = PartnerOutcome::failed(FailureCode::kPluginHung, where + ": the plugin did not return in time; its worker was restarted", true);
      out.reached_partner = result.sent_http;
      out.killed_worker = true;  // its overrun got the worker killed: it counts towards the quarantine
      break;
    case WorkerCallResult::Kind::kCrashed:
      // A poll may be repeated; a submit only if none of its requests went out.
      out = PartnerOutcome::failed(FailureCode::kPluginCrashed, where + ": " + result.detail, true);
      out.reached_partner = result.sent_http;
      out.killed_worker = result.culprit;
      break;
    case WorkerCallResult::Kind::kUnavailable:
      out = PartnerOutcome::notCalled(FailureCode::kPluginRestarting, where + ": " + result.detail, true);
      break;
  }
  markForbidden(out, result.denied, refused);
  return out;
}

PartnerOutcome InsurerAdapter::invoke(const CallContext& ctx, const char* operation, std::string argument,
                                      const ReplyReader& read) {
  bool is_submit = std::string_view(operation) == "submit";
  auto call_deadline = std::min(SystemClock::now() + company_.call_timeout, ctx.deadline);
  auto started = std::chrono::steady_clock::now();
  auto permit = health_->breaker.tryAcquire(started);
  if (!permit) {
    ++health_->circuit_open;
    // New work fails fast; a request already at the partner waits for the breaker to close.
    return PartnerOutcome::notCalled(FailureCode::kCircuitOpen, company_.name + " is failing too often; calls are paused for a while",
                                     /*retryable=*/!is_submit);
  }
  PartnerOutcome out = instance_ ? runInProcess(ctx, operation, std::move(argument), read, call_deadline, started)
                                 : runInWorker(ctx, operation, argument, read, call_deadline, started);
  if (out.failure == FailureCode::kBulkheadFull) {
    health_->breaker.release(permit);
    ++health_->bulkhead_full;
    return out;
  }
  auto now = std::chrono::steady_clock::now();
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - started);
  bool failed = isPartnerFailure(out) || out.failure == FailureCode::kPluginRestarting;
  health_->breaker.record(permit, failed, elapsed, now);
  if (out.failure != FailureCode::kPluginRestarting) {
    health_->latency.add(elapsed);
    latencyMetric()
        .Add({{"company", company_.id}, {"operation", operation}}, metrics::latencyBuckets())
        .Observe(std::chrono::duration<double>(now - started).count());
  }
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
  auto out = invoke(ctx, "submit", quote_json, parseOutcome);
  if ((out.kind == PartnerOutcome::Kind::Pending || out.kind == PartnerOutcome::Kind::Offer) && out.external_id.empty())
    out = PartnerOutcome::failed(FailureCode::kPluginError, "submit via plugin " + library().id() + ": outcome has no externalId");
  count("submit", outcomeLabel(out));
  return out;
}

PartnerOutcome InsurerAdapter::poll(const CallContext& ctx, const std::string& external_id) {
  auto out = invoke(ctx, "poll", external_id, parseOutcome);
  if (out.external_id.empty()) out.external_id = external_id;
  count("poll", outcomeLabel(out));
  return out;
}

PurchaseOutcome InsurerAdapter::issue(const CallContext& ctx, const std::string& purchase_json) {
  return purchaseCall(ctx, "issue", purchase_json);
}

PurchaseOutcome InsurerAdapter::issuePoll(const CallContext& ctx, const std::string& external_purchase_id) {
  auto out = purchaseCall(ctx, "issue_poll", external_purchase_id);
  if (out.external_id.empty() && out.kind != PurchaseOutcome::Kind::Failed && out.kind != PurchaseOutcome::Kind::Declined)
    out.external_id = external_purchase_id;
  return out;
}

PurchaseOutcome InsurerAdapter::purchaseCall(const CallContext& ctx, const char* operation, const std::string& argument) {
  PurchaseOutcome purchase;
  if (!purchasable()) {
    purchase.failure = FailureCode::kNotPurchasable;
    purchase.message = "plugin " + library_->id() + " " + library_->version() + " (ABI " + library_->abiVersion() +
                       ") cannot sell policies through this host";
    count(operation, "not_purchasable");
    return purchase;
  }
  // The call runs like a quote's (breaker, bulkhead, budget, worker); its reply is read as a purchase outcome,
  // and a malformed one counts against the partner like a malformed quote outcome.
  auto call = invoke(ctx, operation, argument, [&](const std::string& reply) {
    purchase = parsePurchaseOutcome(reply);
    if (purchase.kind == PurchaseOutcome::Kind::Failed) return PartnerOutcome::failed(purchase.failure, purchase.message);
    PartnerOutcome answered;
    answered.kind = PartnerOutcome::Kind::Pending;
    return answered;
  });
  if (call.kind == PartnerOutcome::Kind::Failed) {
    purchase = PurchaseOutcome{};
    purchase.failure = call.failure;
    purchase.message = call.message;
    purchase.retryable = call.retryable;
    purchase.killed_worker = call.killed_worker;
    purchase.retry_after = call.retry_after;
  }
  count(operation, purchase.kind == PurchaseOutcome::Kind::Failed ? outcomeLabel(call) : name(purchase.kind));
  return purchase;
}

namespace {

/// A plugin outcome that cannot be used: counted, and a Failed PLUGIN_ERROR naming what is wrong.
PartnerOutcome rejectedOutcome(const std::string& why) {
  countRejected("plugin_outcome");
  return PartnerOutcome::failed(FailureCode::kPluginError, "plugin outcome rejected: " + why);
}

bool isAmount(const std::string& s) {
  // Rubles with at most two fraction digits, as the SDK writes them: "12371.81".
  std::size_t dot = s.find('.');
  std::string whole = s.substr(0, dot);
  std::string fraction = dot == std::string::npos ? "" : s.substr(dot + 1);
  auto digits = [](const std::string& d) { return d.find_first_not_of("0123456789") == std::string::npos; };
  return !whole.empty() && whole.size() <= OSAGO_OUTCOME_MAX_AMOUNT_DIGITS && digits(whole) && digits(fraction) && fraction.size() <= 2 &&
         (dot == std::string::npos || !fraction.empty());
}

}  // namespace

PartnerOutcome parseOutcome(const std::string& json_text) {
  auto j = parseOutside(json_text);
  if (j.is_discarded()) return rejectedOutcome("not valid JSON, or nested deeper than 64 levels");
  if (!j.is_object()) return rejectedOutcome("not a JSON object");
  // Every field is read only after its type was checked: a wrong type is an answer, never an exception.
  auto type_error = [](const char* field, const char* expected) {
    return rejectedOutcome(std::string("field '") + field + "' must be " + expected);
  };
  auto string_field = [&](const char* field, std::size_t max_len, std::string& out) -> std::optional<PartnerOutcome> {
    auto it = j.find(field);
    if (it == j.end()) return std::nullopt;
    if (!it->is_string()) return type_error(field, "a string");
    out = it->get<std::string>();
    if (out.size() > max_len) return rejectedOutcome(std::string("field '") + field + "' is longer than " + std::to_string(max_len));
    return std::nullopt;
  };
  if (auto v = j.find("v"); v != j.end() && !(v->is_number_integer() && v->get<long long>() == 1))
    return rejectedOutcome("field 'v' must be 1");
  std::string kind;
  auto it = j.find("outcome");
  if (it == j.end()) return rejectedOutcome("field 'outcome' is missing");
  if (!it->is_string()) return type_error("outcome", "a string (PENDING, OFFER or DECLINED)");
  kind = it->get<std::string>();
  PartnerOutcome out;
  if (auto e = string_field("externalId", OSAGO_OUTCOME_MAX_EXTERNAL_ID, out.external_id)) return *e;
  if (auto r = j.find("retryAfterMs"); r != j.end()) {
    if (!r->is_number_integer()) return type_error("retryAfterMs", "an integer");
    out.retry_after = std::chrono::milliseconds(std::clamp<long long>(r->get<long long>(), 0, 3'600'000));
  }
  if (kind == "PENDING") {
    out.kind = PartnerOutcome::Kind::Pending;
    return out;
  }
  if (kind == "OFFER") {
    out.kind = PartnerOutcome::Kind::Offer;
    auto offer = j.find("offer");
    if (offer == j.end() || !offer->is_object()) return type_error("offer", "an object");
    auto premium = offer->find("premium");
    if (premium == offer->end() || !premium->is_object()) return type_error("offer.premium", "an object");
    auto amount = premium->find("amount");
    if (amount == premium->end() || !amount->is_string()) return type_error("offer.premium.amount", "a string");
    if (!isAmount(amount->get<std::string>()))
      return rejectedOutcome("field 'offer.premium.amount' must be rubles like \"12371.81\"");
    if (auto c = premium->find("currency"); c != premium->end() && !(c->is_string() && c->get<std::string>() == "RUB"))
      return type_error("offer.premium.currency", "\"RUB\"");
    out.offer = *offer;
    return out;
  }
  if (kind == "DECLINED") {
    out.kind = PartnerOutcome::Kind::Declined;
    if (auto e = string_field("reason", OSAGO_OUTCOME_MAX_DECLINE_REASON, out.decline_reason)) return *e;
    if (auto e = string_field("message", OSAGO_OUTCOME_MAX_DECLINE_MESSAGE, out.message)) return *e;
    if (out.decline_reason.empty()) out.decline_reason = "DECLINED";
    return out;
  }
  return rejectedOutcome("unknown outcome '" + kind.substr(0, 64) + "' (PENDING, OFFER or DECLINED)");
}

}  // namespace osago::host
