#pragma once

#include "plugins/company_executor.hpp"
#include "plugins/failure_code.hpp"
#include "plugins/plugin_library.hpp"
#include "plugins/plugin_manifest.hpp"
#include "plugins/purchase_outcome.hpp"
#include "resilience/partner_breaker.hpp"

#include <osago/common/utf8.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace osago::host {

/// What one partner call found out, in the host's terms.
struct PartnerOutcome {
  enum class Kind { Pending, Offer, Declined, Failed };
  Kind kind = Kind::Failed;
  std::string external_id;          ///< Pending/Offer
  nlohmann::json offer;             ///< Offer: {"premium": {...}, ...}
  FailureCode failure = FailureCode::kPluginError;  ///< Failed: why
  std::string decline_reason;       ///< Declined: the insurer's reason (its own code, e.g. DRIVER_TOO_YOUNG)
  std::string message;              ///< for operators and the driver; never personal data
  bool retryable = false;           ///< Failed: the same call may succeed later
  bool reached_partner = true;      ///< Failed: whether a request may have gone out (false: safe to resend a submit)
  bool killed_worker = false;       ///< Failed PLUGIN_CRASHED: this call's input killed the plugin's worker
  std::optional<std::chrono::milliseconds> retry_after;

  /// `message` often quotes outside bytes (a worker's note or stderr, a partner's
  /// reply): it is stored and published as JSON, so it is clipped to 1000 bytes of UTF-8 here.
  static PartnerOutcome failed(FailureCode code, const std::string& message, bool retryable = false) {
    PartnerOutcome o;
    o.failure = code;
    o.message = utf8::clip(message, 1000);
    o.retryable = retryable;
    return o;
  }
  /// A failure before any call went out (nothing to be idempotent about).
  static PartnerOutcome notCalled(FailureCode code, const std::string& message, bool retryable) {
    PartnerOutcome o = failed(code, message, retryable);
    o.reached_partner = false;
    return o;
  }
};

/// The request a partner call belongs to.
struct CallContext {
  std::string correlation_id;
  std::chrono::system_clock::time_point deadline;
  std::string trace_id;  ///< the quote's W3C trace id (empty for requests from before traces were kept)
};

class PluginInstance;
class PluginWorker;

/// Reads the reply of a call that returned OK (a quote or a purchase outcome document).
using ReplyReader = std::function<PartnerOutcome(const std::string& reply)>;

/// One insurance company served by a plugin instance, behind its own bulkhead.
/// The instance lives in a supervised worker process of its own (PluginWorker)
/// unless the operator trusts the plugin in process. submit/poll are
/// thread-safe and never throw: every failure, a crashing or hanging plugin
/// included, becomes a Failed outcome.
class InsurerAdapter {
 public:
  /// Calls the plugin's create() with the company's settings. `health` (the
  /// company's breaker and statistics) outlives adapter versions; null makes a
  /// private one. Throws PluginLoadError.
  InsurerAdapter(CompanyConfig company, std::shared_ptr<PluginLibrary> library,
                 std::shared_ptr<PartnerHealth> health = nullptr);
  ~InsurerAdapter();
  InsurerAdapter(const InsurerAdapter&) = delete;
  InsurerAdapter& operator=(const InsurerAdapter&) = delete;

  PartnerOutcome submit(const CallContext& ctx, const std::string& quote_json);
  PartnerOutcome poll(const CallContext& ctx, const std::string& external_id);
  /// Starts buying one of this company's offers (ABI 1.2) with the purchase
  /// document (docs/plugin-abi.md); issuePoll asks how it stands. Same breaker,
  /// bulkhead and budget as quotes. A plugin without the purchase entries is a
  /// Failed NOT_PURCHASABLE, never called.
  PurchaseOutcome issue(const CallContext& ctx, const std::string& purchase_json);
  PurchaseOutcome issuePoll(const CallContext& ctx, const std::string& external_purchase_id);
  /// Whether this company's offers can be bought here.
  bool purchasable() const { return library_->purchasable(); }

  const CompanyConfig& company() const;
  const PluginLibrary& library() const;
  /// The worker's pid, state, restarts and last exit; null for an in-process plugin.
  nlohmann::json describeWorker() const;
  /// False while the company's worker is down (crashed, restarting).
  bool workerUp() const;
  /// Whether the plugin runs inside this process (no worker).
  bool inProcess() const { return worker_ == nullptr; }
  int callsRunning() const { return executor_.busy(); }
  int callsQueued() const { return executor_.queued(); }
  PartnerHealth& health() const { return *health_; }
  std::shared_ptr<PartnerHealth> sharedHealth() const { return health_; }

 private:
  /// One call of `operation` under the company's breaker and bulkhead, within its
  /// budget; `read` turns an OK reply into an outcome.
  PartnerOutcome invoke(const CallContext& ctx, const char* operation, std::string argument, const ReplyReader& read);
  PartnerOutcome runInProcess(const CallContext& ctx, const char* operation, std::string argument, const ReplyReader& read,
                              std::chrono::system_clock::time_point call_deadline, std::chrono::steady_clock::time_point started);
  PartnerOutcome runInWorker(const CallContext& ctx, const char* operation, const std::string& argument,
                             const ReplyReader& read, std::chrono::system_clock::time_point call_deadline,
                             std::chrono::steady_clock::time_point started);
  PurchaseOutcome purchaseCall(const CallContext& ctx, const char* operation, const std::string& argument);
  /// osago_partner_calls_total for one finished call (also those refused before the plugin).
  void count(const char* operation, const std::string& outcome) const;

  CompanyConfig company_;
  std::shared_ptr<PluginLibrary> library_;
  std::shared_ptr<PluginInstance> instance_;  ///< in process
  std::shared_ptr<PluginWorker> worker_;      ///< out of process (the default)
  std::shared_ptr<PartnerHealth> health_;
  CompanyExecutor executor_;
};

/// Whether an outcome says the partner is unwell (counts against its breaker):
/// unreachable, timed out, answered garbage, or its plugin broke or hung.
bool isPartnerFailure(const PartnerOutcome& outcome);

/// Parses a plugin's outcome JSON (docs/plugin-abi.md) with type-checked
/// access; a malformed one (not JSON, a field of the wrong type, an unknown
/// outcome) is a Failed PLUGIN_ERROR that says which field is wrong.
PartnerOutcome parseOutcome(const std::string& json_text);

/// Makes one HTTP request a plugin asked for during a call of `company`:
/// only to the hosts its manifest names (else refused, logged and counted),
/// within what is left of the call's budget `call_deadline`.
HttpAnswer brokerHttp(const CompanyConfig& company, std::chrono::system_clock::time_point call_deadline,
                      const HttpAsk& ask, const std::string& correlation_id, const std::string& trace_id = {});

}  // namespace osago::host
