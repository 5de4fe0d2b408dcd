#include "plugins/purchase_outcome.hpp"

#include <osago/common/outside_json.hpp>
#include <osago/common/utf8.hpp>
#include <osago/plugin_abi.h>
#include <osago/plugin_sdk/plugin.hpp>

#include <algorithm>

namespace osago::host {

namespace {

PurchaseOutcome rejected(const std::string& why) {
  countRejected("plugin_purchase_outcome");
  PurchaseOutcome out;
  out.failure = FailureCode::kPluginError;
  // `why` may quote the plugin's bytes cut short: clipped whole characters only (the
  // message is stored and published as JSON; the fuzz target found a cut one).
  out.message = utf8::clip("plugin purchase outcome rejected: " + why, 1000);
  return out;
}

}  // namespace

const char* name(PurchaseOutcome::Kind kind) {
  switch (kind) {
    case PurchaseOutcome::Kind::Pending: return "pending";
    case PurchaseOutcome::Kind::Payment: return "payment";
    case PurchaseOutcome::Kind::Paid: return "paid";
    case PurchaseOutcome::Kind::Issued: return "issued";
    case PurchaseOutcome::Kind::Declined: return "declined";
    case PurchaseOutcome::Kind::Failed: return "failed";
  }
  return "failed";
}

PurchaseOutcome parsePurchaseOutcome(const std::string& json_text) {
  auto j = parseOutside(json_text);
  if (j.is_discarded()) return rejected("not valid JSON, or nested deeper than 64 levels");
  if (!j.is_object()) return rejected("not a JSON object");
  std::string problem;
  // A string field: absent is "", present must be a string of at most max_len bytes.
  auto text = [&](const char* field, std::size_t max_len, bool required, std::string& out) {
    if (!problem.empty()) return;
    auto it = j.find(field);
    if (it == j.end()) {
      if (required) problem = std::string("field '") + field + "' is missing";
      return;
    }
    if (!it->is_string()) {
      problem = std::string("field '") + field + "' must be a string";
      return;
    }
    out = it->get<std::string>();
    if (out.size() > max_len) problem = std::string("field '") + field + "' is longer than " + std::to_string(max_len);
    else if (required && out.empty()) problem = std::string("field '") + field + "' is empty";
  };
  auto link = [&](const char* field, bool required, std::string& out) {
    text(field, OSAGO_PURCHASE_MAX_URL, required, out);
    if (problem.empty() && !out.empty() && !sdk::isShowableLink(out))
      problem = std::string("field '") + field + "' is not an absolute http(s) URL the buyer can be shown";
  };

  if (auto v = j.find("v"); v != j.end() && !(v->is_number_integer() && v->get<long long>() == 1))
    return rejected("field 'v' must be 1");
  auto kind_it = j.find("outcome");
  if (kind_it == j.end()) return rejected("field 'outcome' is missing");
  if (!kind_it->is_string()) return rejected("field 'outcome' must be a string (PENDING, PAYMENT, PAID, ISSUED or DECLINED)");
  const std::string kind = kind_it->get<std::string>();

  PurchaseOutcome out;
  if (auto r = j.find("retryAfterMs"); r != j.end()) {
    if (!r->is_number_integer()) return rejected("field 'retryAfterMs' must be an integer");
    out.retry_after = std::chrono::milliseconds(std::clamp<long long>(r->get<long long>(), 0, 3'600'000));
  }
  if (kind == "DECLINED") {
    out.kind = PurchaseOutcome::Kind::Declined;
    text("reason", OSAGO_OUTCOME_MAX_DECLINE_REASON, false, out.decline_reason);
    text("message", OSAGO_OUTCOME_MAX_DECLINE_MESSAGE, false, out.message);
    if (!problem.empty()) return rejected(problem);
    if (out.decline_reason.empty()) out.decline_reason = "DECLINED";
    return out;
  }
  if (kind == "PENDING") out.kind = PurchaseOutcome::Kind::Pending;
  else if (kind == "PAYMENT") out.kind = PurchaseOutcome::Kind::Payment;
  else if (kind == "PAID") out.kind = PurchaseOutcome::Kind::Paid;
  else if (kind == "ISSUED") out.kind = PurchaseOutcome::Kind::Issued;
  else return rejected("unknown outcome '" + utf8::clip(kind, 64) + "' (PENDING, PAYMENT, PAID, ISSUED or DECLINED)");

  text("externalId", OSAGO_OUTCOME_MAX_EXTERNAL_ID, true, out.external_id);
  if (out.kind == PurchaseOutcome::Kind::Payment) {
    link("paymentUrl", true, out.payment_url);
    link("draftUrl", false, out.draft_url);
    if (problem.empty()) {
      auto e = j.find("expiresAtUnixMs");
      if (e == j.end()) problem = "field 'expiresAtUnixMs' is missing";
      else if (!e->is_number_integer()) problem = "field 'expiresAtUnixMs' must be an integer";
      else if (!sdk::isPurchaseExpiry(e->get<long long>()))
        problem = "field 'expiresAtUnixMs' is not a time between 2000 and 2100";
      else out.expires_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(e->get<long long>()));
    }
  }
  if (out.kind == PurchaseOutcome::Kind::Issued) {
    text("policyNumber", OSAGO_PURCHASE_MAX_POLICY_NUMBER, true, out.policy_number);
    if (problem.empty() && !sdk::isPolicyNumber(out.policy_number))
      problem = "field 'policyNumber' has a control character";
    link("policyUrl", false, out.policy_url);
  }
  if (!problem.empty()) return rejected(problem);
  return out;
}

}  // namespace osago::host
