#pragma once

#include <osago/common/civil_date.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace osago::quote {

/// One rejected field of the quote input: a JSON path such as
/// "drivers[0].licenseSeries" and a reason a driver can act on.
struct FieldError {
  std::string field;
  std::string reason;
};

/// The result of validating what a driver sent (a quote input or a buyer).
/// When `errors` is empty, `input` holds it canonical and normalised (the
/// quote input: version 1, see docs/api.md).
struct Validated {
  nlohmann::json input;
  std::vector<FieldError> errors;
  bool ok() const { return errors.empty(); }
};

/// Upper bound on named drivers in one request.
inline constexpr std::size_t kMaxDrivers = 10;
/// How far ahead a policy may start (days), as insurers allow.
inline constexpr int kMaxDaysAhead = 60;

/// Validates `body` (the camelCase quote input: vehicle, owner, drivers,
/// policy) against what real partners accept, with `today` as the reference
/// date for ages and the policy start. Unknown fields are rejected. Plates are
/// normalised (Latin look-alikes to Cyrillic, upper case); VINs to upper case.
/// Never throws on bad input: every problem becomes a FieldError.
Validated validateQuoteInput(const nlohmann::json& body, const CivilDate& today);

/// Validates the buyer's contact data sent with a purchase (docs/api.md,
/// "Purchases"): {"email": "ivanov@example.ru", "phone": "+7 900 123-45-67"}.
/// Unknown fields are rejected; paths are prefixed with `path` ("buyer").
/// When ok(), `input` is {"email" (lower-cased domain), "phone" ("+79001234567")}.
/// Never throws on bad input.
Validated validateBuyer(const nlohmann::json& buyer, const std::string& path = "buyer");

/// Converts Latin look-alike letters (ABEKMHOPCTYX) and lower-case Cyrillic
/// to the upper-case Cyrillic letters used on Russian plates.
std::string normalizePlateLetters(const std::string& text);

/// Converts field errors to the JSON array used in 400 answers.
nlohmann::json toJson(const std::vector<FieldError>& errors);

}  // namespace osago::quote
