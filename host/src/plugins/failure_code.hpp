#pragma once

#include <ostream>

namespace osago::host {

/// Why a partner call failed: the host's own closed set, one name each (the
/// stored company error, the events, the metrics' outcome label, the logs).
/// An insurer's reason for declining is the insurer's text instead
/// (PartnerOutcome::decline_reason).
enum class FailureCode {
  kPartnerUnavailable,    ///< the partner answered "try later" or could not be reached (retried)
  kPartnerTimeout,        ///< the partner did not answer in time (retried)
  kPartnerError,          ///< the partner answered with an error
  kPartnerRejectedInput,  ///< the partner refused our input
  kPluginError,           ///< the plugin broke its contract (bad outcome, threw, …)
  kPluginHung,            ///< the plugin did not return within the call's budget
  kPluginCrashed,         ///< the plugin's worker died during the call
  kPluginRestarting,      ///< the plugin's worker is being restarted
  kPluginForbidden,       ///< the plugin tried what partner code may not do
  kPluginUnavailable,     ///< no loaded plugin serves the company
  kBulkheadFull,          ///< every call slot of the company busy and its queue full
  kCircuitOpen,           ///< the company's breaker is open
  kCompanyDisabled,       ///< an operator switched the plugin off
  kDeadlineExceeded,      ///< the request's deadline passed
  kNotPurchasable,        ///< the company's plugin cannot sell policies here (no ABI 1.2 purchase entries)
};

/// The code's name: "PARTNER_UNAVAILABLE", …
const char* name(FailureCode code);
inline std::ostream& operator<<(std::ostream& out, FailureCode code) { return out << name(code); }

}  // namespace osago::host
