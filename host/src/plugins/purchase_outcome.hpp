#pragma once

#include "plugins/failure_code.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace osago::host {

/// What one issue or issue_poll call said of a purchase (ABI 1.2), in the
/// host's terms. Read from the plugin's purchase outcome document
/// (docs/plugin-abi.md, "Purchase documents") by parsePurchaseOutcome.
struct PurchaseOutcome {
  enum class Kind { Pending, Payment, Paid, Issued, Declined, Failed };
  Kind kind = Kind::Failed;
  std::string external_id;    ///< the partner's purchase id (all but Declined and Failed)
  std::string payment_url;    ///< Payment
  std::string draft_url;      ///< Payment, optional
  std::optional<std::chrono::system_clock::time_point> expires_at;  ///< Payment: the payment page's end
  std::string policy_number;  ///< Issued
  std::string policy_url;     ///< Issued, optional
  std::string decline_reason; ///< Declined: the insurer's own code
  std::string message;        ///< Declined, Failed
  FailureCode failure = FailureCode::kPluginError;  ///< Failed
  bool retryable = false;        ///< Failed: the same call may succeed later
  bool killed_worker = false;    ///< Failed PLUGIN_CRASHED/HUNG: this call's input killed the plugin's worker
  std::optional<std::chrono::milliseconds> retry_after;
};

/// The kind's name in lower case, as the metrics label it: "pending", "payment", … "failed".
const char* name(PurchaseOutcome::Kind kind);

/// Reads a purchase outcome document with type-checked access: a malformed
/// one (not JSON, a field of the wrong type or out of its bounds, a link that
/// is not one osago::sdk::isShowableLink takes, an unknown outcome) is a Failed
/// PLUGIN_ERROR naming the field, counted as a rejected plugin document.
PurchaseOutcome parsePurchaseOutcome(const std::string& json_text);

}  // namespace osago::host
