#pragma once

#include <nlohmann/json.hpp>

#include <ostream>
#include <string_view>

namespace osago::host {

/// A company's status within a request, as stored and as shown in the API and events.
enum class CompanyStatus { kCreated, kInProgress, kCompleted, kFailed, kTimeout };
/// A request's status: IN_PROGRESS until every company is final, then COMPLETED.
enum class RequestStatus { kInProgress, kCompleted };

/// Where buying a company's offer stands: CREATED (not yet accepted by the
/// partner), PENDING (the partner checks it), PAYMENT (its payment page is
/// open to the buyer), PAID, then ISSUED (the policy), or DECLINED / FAILED.
enum class PurchaseStatus { kCreated, kPending, kPayment, kPaid, kIssued, kDeclined, kFailed };

/// "CREATED", "IN_PROGRESS", "COMPLETED", "FAILED", "TIMEOUT".
const char* name(CompanyStatus status);
const char* name(RequestStatus status);
const char* name(PurchaseStatus status);
/// The status a stored name stands for; throws osago::Error for any other text
/// (a row this code did not write).
CompanyStatus companyStatusNamed(std::string_view text);
RequestStatus requestStatusNamed(std::string_view text);
PurchaseStatus purchaseStatusNamed(std::string_view text);
/// COMPLETED, FAILED or TIMEOUT: nothing more happens to the company.
bool isFinal(CompanyStatus status);
/// ISSUED, DECLINED or FAILED.
bool isFinal(PurchaseStatus status);

inline void to_json(nlohmann::json& j, CompanyStatus s) { j = name(s); }
inline void to_json(nlohmann::json& j, RequestStatus s) { j = name(s); }
inline void to_json(nlohmann::json& j, PurchaseStatus s) { j = name(s); }
inline std::ostream& operator<<(std::ostream& out, CompanyStatus s) { return out << name(s); }
inline std::ostream& operator<<(std::ostream& out, RequestStatus s) { return out << name(s); }
inline std::ostream& operator<<(std::ostream& out, PurchaseStatus s) { return out << name(s); }

}  // namespace osago::host
