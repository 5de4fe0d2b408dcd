#include "auth/token_service.hpp"

#include <Poco/Crypto/Crypto.h>
#include <Poco/JWT/JWTException.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>

namespace osago::core {

// Poco's OpenSSL set-up is reference-counted per digest engine: when the count
// drops to zero between two concurrent verifications, one thread tears down
// what another has just set up (seen as heap corruption under concurrent
// stream opens). Holding one reference for the service's life keeps it up.
TokenService::TokenService(std::string secret, std::chrono::seconds ttl) : secret_(std::move(secret)), ttl_(ttl) {
  Poco::Crypto::initializeCrypto();
}

TokenService::~TokenService() {
  Poco::Crypto::uninitializeCrypto();
}

std::string TokenService::issue(const std::string& user_id) const {
  Poco::JWT::Token token;
  token.setType("JWT");
  token.setSubject(user_id);
  Poco::Timestamp now;
  token.setIssuedAt(now);
  token.setExpiration(now + Poco::Timespan(ttl_.count(), 0));
  Poco::JWT::Signer signer(secret_);
  return signer.sign(token, Poco::JWT::Signer::ALGO_HS256);
}

UserIdentity TokenService::verify(const std::string& jwt) const {
  Poco::JWT::Token token;
  try {
    Poco::JWT::Signer signer(secret_);
    token = signer.verify(jwt);
  } catch (const Poco::Exception& e) {
    throw Error("invalid token: " + e.displayText());
  }
  Poco::Timestamp exp = token.getExpiration();
  if (exp <= Poco::Timestamp()) throw Error("token expired");
  if (token.getSubject().empty()) throw Error("token has no subject");
  return {token.getSubject(), std::chrono::system_clock::time_point(std::chrono::microseconds(exp.epochMicroseconds()))};
}

}  // namespace osago::core
