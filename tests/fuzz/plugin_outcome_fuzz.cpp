// A plugin's outcome document (docs/plugin-abi.md), as the host reads every
// reply of an OK call — the same bytes as a quote outcome and as a purchase
// outcome. Properties: it never throws; a malformed document is a Failed
// PLUGIN_ERROR with a message; an offer carries its premium object; a
// purchase's links are ones the buyer can be shown and its payment deadline
// and policy number are in bounds; ids and retry hints stay in bounds; every
// text it yields is still UTF-8.
#include "fuzz_support.hpp"

#include "plugins/insurer_adapter.hpp"
#include "plugins/purchase_outcome.hpp"

#include <osago/plugin_sdk/plugin.hpp>

using osago::host::PartnerOutcome;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(osago::fuzz::text(data, size));
  PartnerOutcome out = osago::host::parseOutcome(text);
  switch (out.kind) {
    case PartnerOutcome::Kind::Failed:
      OSAGO_FUZZ_CHECK(!out.message.empty(), text);
      break;
    case PartnerOutcome::Kind::Offer:
      OSAGO_FUZZ_CHECK(out.offer.is_object() && out.offer.contains("premium"), out.offer.dump());
      (void)out.offer.dump();  // stored and published as JSON text
      [[fallthrough]];
    case PartnerOutcome::Kind::Pending:
      OSAGO_FUZZ_CHECK(out.external_id.size() <= 256, out.external_id);
      break;
    case PartnerOutcome::Kind::Declined:
      break;
  }
  // Stored and published as JSON: every text must still be UTF-8 (a cut in the
  // middle of a character would make the event unwritable).
  (void)nlohmann::json{{"m", out.message}, {"r", out.decline_reason}, {"e", out.external_id}}.dump();
  if (out.retry_after) OSAGO_FUZZ_CHECK(out.retry_after->count() >= 0 && out.retry_after->count() <= 3'600'000, text);

  using osago::host::PurchaseOutcome;
  PurchaseOutcome p = osago::host::parsePurchaseOutcome(text);
  if (p.kind == PurchaseOutcome::Kind::Failed) OSAGO_FUZZ_CHECK(!p.message.empty(), text);
  if (p.kind != PurchaseOutcome::Kind::Failed && p.kind != PurchaseOutcome::Kind::Declined)
    OSAGO_FUZZ_CHECK(!p.external_id.empty() && p.external_id.size() <= OSAGO_OUTCOME_MAX_EXTERNAL_ID, text);
  if (p.kind == PurchaseOutcome::Kind::Payment) {
    OSAGO_FUZZ_CHECK(osago::sdk::isShowableLink(p.payment_url), p.payment_url);
    OSAGO_FUZZ_CHECK(p.draft_url.empty() || osago::sdk::isShowableLink(p.draft_url), p.draft_url);
    OSAGO_FUZZ_CHECK(p.expires_at.has_value(), text);
  }
  if (p.kind == PurchaseOutcome::Kind::Issued) {
    OSAGO_FUZZ_CHECK(osago::sdk::isPolicyNumber(p.policy_number), p.policy_number);
    OSAGO_FUZZ_CHECK(p.policy_url.empty() || osago::sdk::isShowableLink(p.policy_url), p.policy_url);
  }
  (void)nlohmann::json{{"m", p.message}, {"r", p.decline_reason}, {"e", p.external_id}, {"u", p.payment_url},
                       {"n", p.policy_number}}.dump();
  if (p.retry_after) OSAGO_FUZZ_CHECK(p.retry_after->count() >= 0 && p.retry_after->count() <= 3'600'000, text);
  return 0;
}
