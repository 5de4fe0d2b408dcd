#include <osago/common/errors.hpp>

#include <Poco/Exception.h>

namespace osago {

std::string errorText(const std::exception& e) {
  if (const auto* poco = dynamic_cast<const Poco::Exception*>(&e)) return poco->displayText();
  return e.what();
}

}  // namespace osago
