#include "plugins/failure_code.hpp"

namespace osago::host {

const char* name(FailureCode code) {
  // A switch without default: the compiler (-Wswitch) names an enumerator left out.
  switch (code) {
    case FailureCode::kPartnerUnavailable: return "PARTNER_UNAVAILABLE";
    case FailureCode::kPartnerTimeout: return "PARTNER_TIMEOUT";
    case FailureCode::kPartnerError: return "PARTNER_ERROR";
    case FailureCode::kPartnerRejectedInput: return "PARTNER_REJECTED_INPUT";
    case FailureCode::kPluginError: return "PLUGIN_ERROR";
    case FailureCode::kPluginHung: return "PLUGIN_HUNG";
    case FailureCode::kPluginCrashed: return "PLUGIN_CRASHED";
    case FailureCode::kPluginRestarting: return "PLUGIN_RESTARTING";
    case FailureCode::kPluginForbidden: return "PLUGIN_FORBIDDEN";
    case FailureCode::kPluginUnavailable: return "PLUGIN_UNAVAILABLE";
    case FailureCode::kBulkheadFull: return "BULKHEAD_FULL";
    case FailureCode::kCircuitOpen: return "CIRCUIT_OPEN";
    case FailureCode::kCompanyDisabled: return "COMPANY_DISABLED";
    case FailureCode::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
    case FailureCode::kNotPurchasable: return "NOT_PURCHASABLE";
  }
  return "PLUGIN_ERROR";  // not reached: a value outside the enumeration
}

}  // namespace osago::host
