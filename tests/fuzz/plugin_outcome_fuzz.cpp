// A plugin's outcome document (docs/plugin-abi.md), as the host reads every
// reply of an OK call. Properties: it never throws; a malformed document is a
// Failed PLUGIN_ERROR with a message; an offer carries its premium object; a
// pending or offer outcome's external id and a retry hint stay in bounds;
// every text it yields is still UTF-8.
#include "fuzz_support.hpp"

#include "plugins/insurer_adapter.hpp"

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
  return 0;
}
