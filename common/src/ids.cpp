#include <osago/common/ids.hpp>

#include <Poco/UUIDGenerator.h>

#include <cctype>

namespace osago {

std::string newUuid() { return Poco::UUIDGenerator::defaultGenerator().createRandom().toString(); }

bool isUuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

}  // namespace osago
