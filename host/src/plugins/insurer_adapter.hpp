#pragma once

#include "config/aggregator_config.hpp"
#include "plugins/plugin_library.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace Poco { class Logger; }

namespace osago::host {

/// What one partner call found out, in the host's terms.
struct PartnerOutcome {
  enum class Kind { Pending, Offer, Declined, Failed };
  Kind kind = Kind::Failed;
  std::string external_id;          ///< Pending/Offer
  nlohmann::json offer;             ///< Offer: {"premium": {...}, ...}
  std::string code;                 ///< Declined: the insurer's reason; Failed: our failure code
  std::string message;              ///< for operators and the driver; never personal data
  bool retryable = false;           ///< Failed: the same call may succeed later
  std::optional<std::chrono::milliseconds> retry_after;

  static PartnerOutcome failed(std::string code, std::string message, bool retryable = false) {
    PartnerOutcome o;
    o.code = std::move(code);
    o.message = std::move(message);
    o.retryable = retryable;
    return o;
  }
};

/// The request a partner call belongs to.
struct CallContext {
  std::string correlation_id;
  std::chrono::system_clock::time_point deadline;
};

/// One insurance company served by a plugin instance. Owns the instance
/// (created in the constructor, destroyed in the destructor) and keeps the
/// library loaded. submit/poll are thread-safe as the ABI requires of plugins;
/// they never throw: every failure becomes a Failed outcome.
class InsurerAdapter {
 public:
  /// Calls the plugin's create() with the company's settings. Throws PluginLoadError.
  InsurerAdapter(CompanyConfig company, std::shared_ptr<PluginLibrary> library);
  ~InsurerAdapter();
  InsurerAdapter(const InsurerAdapter&) = delete;
  InsurerAdapter& operator=(const InsurerAdapter&) = delete;

  PartnerOutcome submit(const CallContext& ctx, const std::string& quote_json);
  PartnerOutcome poll(const CallContext& ctx, const std::string& external_id);

  const CompanyConfig& company() const { return company_; }
  const PluginLibrary& library() const { return *library_; }

 private:
  struct CallState;
  template <typename Fn>
  PartnerOutcome invoke(const CallContext& ctx, const char* operation, Fn&& fn);

  static void hostLog(void* host_ctx, osago_log_level level, osago_str message);
  static std::int64_t hostNow(void* host_ctx);
  static osago_status hostHttp(void* call_ctx, const osago_http_request* request, osago_http_response* response);

  CompanyConfig company_;
  std::shared_ptr<PluginLibrary> library_;
  osago_host_api host_api_{};
  void* instance_ = nullptr;
  Poco::Logger& log_;
};

/// Parses a plugin's outcome JSON (docs/plugin-abi.md); a malformed one is a Failed PLUGIN_ERROR.
PartnerOutcome parseOutcome(const std::string& json_text);

}  // namespace osago::host
