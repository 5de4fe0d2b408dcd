// A driver's request body: read as the aggregator reads it (parseJsonBody),
// validated and normalised. Properties: every rejection names a field (the
// body as a whole when it is no object) and a reason and can be written as the
// 400 answer; an accepted input is a fixed point (validating the normalised
// input accepts it unchanged); plate letter normalisation is idempotent on any bytes.
#include "fuzz_support.hpp"

#include <osago/common/errors.hpp>
#include <osago/common/http_server.hpp>
#include <osago/common/quote_input.hpp>

using nlohmann::json;

namespace {
const osago::CivilDate kToday{2026, 11, 27};
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto bytes = osago::fuzz::text(data, size);
  std::string plate(bytes.substr(0, 64));
  std::string once = osago::quote::normalizePlateLetters(plate);
  OSAGO_FUZZ_CHECK(osago::quote::normalizePlateLetters(once) == once, "plate '" + plate + "'");

  json body;
  try {
    body = osago::http::parseJsonBody(bytes);
  } catch (const osago::http::HttpError& e) {
    OSAGO_FUZZ_CHECK(e.status() == 400 && e.code() == "INVALID_JSON", e.code());
    return 0;
  }
  auto first = osago::quote::validateQuoteInput(body, kToday);
  // Each error names its field; only a body that is no object at all is refused as a whole.
  for (const auto& e : first.errors)
    OSAGO_FUZZ_CHECK(!e.reason.empty() && (!e.field.empty() || !body.is_object()), e.field + ": " + e.reason);
  (void)osago::quote::toJson(first.errors).dump();  // the 400 answer; throws on bytes that are not UTF-8
  if (!first.ok()) return 0;
  std::string canonical = first.input.dump();
  auto second = osago::quote::validateQuoteInput(first.input, kToday);
  OSAGO_FUZZ_CHECK(second.ok(), canonical + " was refused: " + osago::quote::toJson(second.errors).dump());
  OSAGO_FUZZ_CHECK(second.input == first.input, canonical + " became " + second.input.dump());
  return 0;
}
