#include "plugins/insurer_adapter.hpp"

#include <osago/common/http_client.hpp>

#include <Poco/Logger.h>

#include <algorithm>
#include <deque>

namespace osago::host {
namespace {

std::string str(osago_str s) { return s.data ? std::string(s.data, s.len) : std::string(); }
osago_str abi(const std::string& s) { return osago_str{s.data(), s.size()}; }

}  // namespace

struct InsurerAdapter::CallState {
  InsurerAdapter* adapter;
  std::chrono::system_clock::time_point deadline;
  std::string correlation_id;
  std::string reply;
  bool replied = false;
  std::deque<http::ClientResponse> responses;  // keeps bodies alive until the plugin call returns
};

InsurerAdapter::InsurerAdapter(CompanyConfig company, std::shared_ptr<PluginLibrary> library)
    : company_(std::move(company)), library_(std::move(library)), log_(Poco::Logger::get("plugin." + company_.id)) {
  host_api_.struct_size = sizeof(host_api_);
  host_api_.abi_major = OSAGO_PLUGIN_ABI_MAJOR;
  host_api_.abi_minor = OSAGO_PLUGIN_ABI_MINOR;
  host_api_.host_ctx = this;
  host_api_.log = &InsurerAdapter::hostLog;
  host_api_.now_unix_ms = &InsurerAdapter::hostNow;
  host_api_.http_call = &InsurerAdapter::hostHttp;
  std::string settings = company_.settings.dump();
  osago_status status = library_->api().create(&host_api_, abi(settings), &instance_);
  if (status != OSAGO_STATUS_OK || !instance_)
    throw PluginLoadError("company " + company_.id + ": plugin " + library_->id() +
                          " refused its settings (status " + std::to_string(status) + "; see the plugin." +
                          company_.id + " log lines)");
}

InsurerAdapter::~InsurerAdapter() {
  if (instance_) library_->api().destroy(instance_);
}

template <typename Fn>
PartnerOutcome InsurerAdapter::invoke(const CallContext& ctx, const char* operation, Fn&& fn) {
  CallState state{this, ctx.deadline, ctx.correlation_id, {}, false, {}};
  osago_call call{};
  call.struct_size = sizeof(call);
  call.correlation_id = abi(state.correlation_id);
  call.deadline_unix_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(ctx.deadline.time_since_epoch()).count();
  call.host_call_ctx = &state;
  call.reply = [](void* c, osago_str json) {
    auto* s = static_cast<CallState*>(c);
    s->reply = str(json);
    s->replied = true;
  };
  osago_status status = fn(&call);
  std::string detail;
  if (!state.reply.empty()) {
    auto j = nlohmann::json::parse(state.reply, nullptr, false);
    detail = j.is_object() && j.contains("message") && j["message"].is_string() ? j["message"].get<std::string>() : state.reply;
  }
  std::string where = std::string(operation) + " via plugin " + library_->id();
  switch (status) {
    case OSAGO_STATUS_OK:
      if (!state.replied) return PartnerOutcome::failed("PLUGIN_ERROR", where + ": returned OK without an outcome");
      return parseOutcome(state.reply);
    case OSAGO_STATUS_TRANSIENT:
      return PartnerOutcome::failed("PARTNER_UNAVAILABLE", where + ": " + detail, true);
    case OSAGO_STATUS_TIMEOUT:
      return PartnerOutcome::failed("PARTNER_TIMEOUT", where + ": " + detail, true);
    case OSAGO_STATUS_INVALID_INPUT:
      return PartnerOutcome::failed("PARTNER_REJECTED_INPUT", where + ": " + detail);
    case OSAGO_STATUS_PERMANENT:
      return PartnerOutcome::failed("PARTNER_ERROR", where + ": " + detail);
    default:
      return PartnerOutcome::failed("PLUGIN_ERROR", where + ": status " + std::to_string(status) + ": " + detail);
  }
}

PartnerOutcome InsurerAdapter::submit(const CallContext& ctx, const std::string& quote_json) {
  auto out = invoke(ctx, "submit", [&](const osago_call* call) {
    return library_->api().submit(instance_, call, abi(quote_json));
  });
  if ((out.kind == PartnerOutcome::Kind::Pending || out.kind == PartnerOutcome::Kind::Offer) && out.external_id.empty())
    return PartnerOutcome::failed("PLUGIN_ERROR", "submit via plugin " + library_->id() + ": outcome has no externalId");
  return out;
}

PartnerOutcome InsurerAdapter::poll(const CallContext& ctx, const std::string& external_id) {
  auto out = invoke(ctx, "poll", [&](const osago_call* call) {
    return library_->api().poll(instance_, call, abi(external_id));
  });
  if (out.external_id.empty()) out.external_id = external_id;
  return out;
}

void InsurerAdapter::hostLog(void* host_ctx, osago_log_level level, osago_str message) {
  auto* self = static_cast<InsurerAdapter*>(host_ctx);
  std::string text = str(message);
  switch (level) {
    case OSAGO_LOG_DEBUG: self->log_.debug(text); break;
    case OSAGO_LOG_INFO: self->log_.information(text); break;
    case OSAGO_LOG_WARNING: self->log_.warning(text); break;
    default: self->log_.error(text); break;
  }
}

std::int64_t InsurerAdapter::hostNow(void*) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

osago_status InsurerAdapter::hostHttp(void* call_ctx, const osago_http_request* request, osago_http_response* response) {
  auto* state = static_cast<CallState*>(call_ctx);
  if (!state || !request || !response) return OSAGO_STATUS_INVALID_INPUT;
  // The timeout is the smallest of the plugin's wish, the company's cap and the time left.
  auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(state->deadline - std::chrono::system_clock::now());
  auto timeout = state->adapter->company_.call_timeout;
  if (request->timeout_ms > 0) timeout = std::min(timeout, std::chrono::milliseconds(request->timeout_ms));
  timeout = std::min(timeout, remaining);
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
    state->adapter->log_.warning("[" + state->correlation_id + "] " + e.what());
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
    const auto* amount = out.offer.is_object() && out.offer.contains("premium") && out.offer["premium"].is_object()
                             ? &out.offer["premium"]
                             : nullptr;
    if (!amount || !(*amount).value("amount", nlohmann::json()).is_string())
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
