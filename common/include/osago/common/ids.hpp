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

}  // namespace osago
