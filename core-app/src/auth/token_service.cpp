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
TokenService::TokenService(std::string secret, std::chrono::seconds ttl, std::string accepted)
    : secret_(std::move(secret)), ttl_(ttl), accepted_(std::move(accepted)) {
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
    token = Poco::JWT::Signer(secret_).verify(jwt);
  } catch (const Poco::Exception& e) {
    // Only a token signed with another key may pass with the accepted one.
    bool other_key = dynamic_cast<const Poco::JWT::SignatureVerificationException*>(&e) != nullptr;
    if (!other_key || accepted_.empty()) throw Error("invalid token: " + e.displayText());
    try {
      token = Poco::JWT::Signer(accepted_).verify(jwt);
    } catch (const Poco::Exception& again) {
      throw Error("invalid token: " + again.displayText());
    }
  }
  Poco::Timestamp exp = token.getExpiration();
  if (exp <= Poco::Timestamp()) throw Error("token expired");
  if (token.getSubject().empty()) throw Error("token has no subject");
  return {token.getSubject(), std::chrono::system_clock::time_point(std::chrono::microseconds(exp.epochMicroseconds()))};
}

}  // namespace osago::core
