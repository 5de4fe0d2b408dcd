#include "store/quote_status.hpp"

#include <osago/common/errors.hpp>

#include <string>

namespace osago::host {

// Switches without default: the compiler (-Wswitch) names an enumerator left out.
const char* name(CompanyStatus status) {
  switch (status) {
    case CompanyStatus::kCreated: return "CREATED";
    case CompanyStatus::kInProgress: return "IN_PROGRESS";
    case CompanyStatus::kCompleted: return "COMPLETED";
    case CompanyStatus::kFailed: return "FAILED";
    case CompanyStatus::kTimeout: return "TIMEOUT";
  }
  return "FAILED";  // not reached: a value outside the enumeration
}

const char* name(RequestStatus status) {
  switch (status) {
    case RequestStatus::kInProgress: return "IN_PROGRESS";
    case RequestStatus::kCompleted: return "COMPLETED";
  }
  return "IN_PROGRESS";  // not reached
}

const char* name(PurchaseStatus status) {
  switch (status) {
    case PurchaseStatus::kCreated: return "CREATED";
    case PurchaseStatus::kPending: return "PENDING";
    case PurchaseStatus::kPayment: return "PAYMENT";
    case PurchaseStatus::kPaid: return "PAID";
    case PurchaseStatus::kIssued: return "ISSUED";
    case PurchaseStatus::kDeclined: return "DECLINED";
    case PurchaseStatus::kFailed: return "FAILED";
  }
  return "FAILED";  // not reached
}

CompanyStatus companyStatusNamed(std::string_view text) {
  for (auto s : {CompanyStatus::kCreated, CompanyStatus::kInProgress, CompanyStatus::kCompleted, CompanyStatus::kFailed,
                 CompanyStatus::kTimeout})
    if (text == name(s)) return s;
  throw Error("unknown company status '" + std::string(text.substr(0, 32)) + "'");
}

RequestStatus requestStatusNamed(std::string_view text) {
  for (auto s : {RequestStatus::kInProgress, RequestStatus::kCompleted})
    if (text == name(s)) return s;
  throw Error("unknown request status '" + std::string(text.substr(0, 32)) + "'");
}

PurchaseStatus purchaseStatusNamed(std::string_view text) {
  for (auto s : {PurchaseStatus::kCreated, PurchaseStatus::kPending, PurchaseStatus::kPayment, PurchaseStatus::kPaid,
                 PurchaseStatus::kIssued, PurchaseStatus::kDeclined, PurchaseStatus::kFailed})
    if (text == name(s)) return s;
  throw Error("unknown purchase status '" + std::string(text.substr(0, 32)) + "'");
}

bool isFinal(PurchaseStatus status) {
  return status == PurchaseStatus::kIssued || status == PurchaseStatus::kDeclined || status == PurchaseStatus::kFailed;
}

bool isFinal(CompanyStatus status) {
  return status == CompanyStatus::kCompleted || status == CompanyStatus::kFailed || status == CompanyStatus::kTimeout;
}

}  // namespace osago::host
