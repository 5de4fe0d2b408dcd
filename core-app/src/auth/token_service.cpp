#include "auth/token_service.hpp"

#include <Poco/JWT/Token.h>

namespace osago::core {

TokenService::TokenService(std::string secret, std::chrono::seconds ttl, std::string accepted)
    : keys_(std::move(secret), std::move(accepted)), ttl_(ttl) {}

std::string TokenService::issue(const std::string& user_id) const {
  Poco::JWT::Token token;
  token.setSubject(user_id);
  Poco::Timestamp now;
  token.setIssuedAt(now);
  token.setExpiration(now + Poco::Timespan(ttl_.count(), 0));
  return keys_.sign(token);
}

UserIdentity TokenService::verify(const std::string& jwt) const {
  Poco::JWT::Token token = keys_.verify(jwt);
  Poco::Timestamp exp = token.getExpiration();
  if (exp <= Poco::Timestamp()) throw Error("token expired");
  if (token.getSubject().empty()) throw Error("token has no subject");
  return {token.getSubject(), std::chrono::system_clock::time_point(std::chrono::microseconds(exp.epochMicroseconds()))};
}

}  // namespace osago::core
