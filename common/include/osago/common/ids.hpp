#pragma once

#include <cstddef>
#include <string>

namespace osago {

/// A new random (version 4) UUID in canonical lower-case form.
std::string newUuid();

/// `bytes` random bytes from the kernel's CSPRNG as lower-case hex, never all zeros.
std::string randomHex(std::size_t bytes);

/// Whether `s` is a UUID in canonical 8-4-4-4-12 hex form.
bool isUuid(const std::string& s);

/// Whether `s` can be an insurance company's id: 1 to 64 lower-case Latin
/// letters, digits and '-' (what a plugin manifest may declare; safe in a URL path).
bool isCompanyId(const std::string& s);

}  // namespace osago
