#include <osago/common/signed_tokens.hpp>

#include <Poco/Crypto/Crypto.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JWT/JWTException.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>

#include <algorithm>

namespace osago::auth {
namespace {

using SystemClock = std::chrono::system_clock;

Poco::Timestamp toTimestamp(SystemClock::time_point t) {
  return Poco::Timestamp(std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
}

SystemClock::time_point fromTimestamp(const Poco::Timestamp& t) {
  return SystemClock::time_point(std::chrono::microseconds(t.epochMicroseconds()));
}

/// Clocks of two hosts may differ by this much.
constexpr std::chrono::seconds kClockSkew{60};

/// The registered claims a verified token carries, type-checked before Poco's
/// getters read them: they convert whatever is there (a string "exp" throws
/// Poco's exceptions, a huge one overflows the clocks' arithmetic).
void checkClaims(const Poco::JWT::Token& token) {
  const Poco::JSON::Object& claims = token.payload();
  for (const char* time : {"exp", "iat", "nbf"}) {
    if (!claims.has(time)) continue;
    auto v = claims.get(time);
    // Seconds since 1970, up to what the nanosecond clock holds (year 2255).
    if (!v.isNumeric() || !(v.convert<double>() >= 0 && v.convert<double>() <= 9e9))
      throw Error(std::string("invalid token: claim '") + time + "' is not a time in seconds");
  }
  for (const char* text : {"sub", "iss", "jti"})
    if (claims.has(text) && !claims.get(text).isString())
      throw Error(std::string("invalid token: claim '") + text + "' is not a string");
  if (claims.has("aud")) {
    auto aud = claims.get("aud");
    bool ok = aud.isString();
    if (!ok && aud.type() == typeid(Poco::JSON::Array::Ptr)) {
      const auto& list = aud.extract<Poco::JSON::Array::Ptr>();
      ok = list && std::all_of(list->begin(), list->end(), [](const Poco::Dynamic::Var& a) { return a.isString(); });
    }
    if (!ok) throw Error("invalid token: claim 'aud' is neither a string nor a list of strings");
  }
}

}  // namespace

// Poco's OpenSSL set-up is reference-counted per digest engine: when the count
// drops to zero between two concurrent verifications, one thread tears down
// what another has just set up (seen as heap corruption under concurrent
// stream opens). Holding one reference for the keys' life keeps it up.
TokenKeys::TokenKeys(std::string secret, std::string accepted) : secret_(std::move(secret)), accepted_(std::move(accepted)) {
  Poco::Crypto::initializeCrypto();
}

TokenKeys::~TokenKeys() { Poco::Crypto::uninitializeCrypto(); }

std::string TokenKeys::sign(Poco::JWT::Token& token) const {
  token.setType("JWT");
  return Poco::JWT::Signer(secret_).sign(token, Poco::JWT::Signer::ALGO_HS256);
}

Poco::JWT::Token TokenKeys::verify(const std::string& jwt) const {
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
  checkClaims(token);
  return token;
}

ServiceTokenIssuer::ServiceTokenIssuer(std::string secret, std::string caller, std::string audience,
                                       std::chrono::seconds lifetime)
    : keys_(std::move(secret)), caller_(std::move(caller)), audience_(std::move(audience)),
      lifetime_(std::min(lifetime, kMaxServiceTokenLifetime)) {}

std::string ServiceTokenIssuer::authorization() {
  auto now = SystemClock::now();
  std::lock_guard lock(mutex_);
  if (current_.empty() || now >= renew_at_) {
    Poco::JWT::Token token;
    token.setSubject(caller_);
    token.setAudience(audience_);
    token.setIssuedAt(toTimestamp(now));
    token.setExpiration(toTimestamp(now + lifetime_));
    current_ = "Bearer " + keys_.sign(token);
    renew_at_ = now + lifetime_ * 2 / 3;
  }
  return current_;
}

ServiceTokenVerifier::ServiceTokenVerifier(std::string secret, std::string accepted, std::string audience)
    : keys_(std::move(secret), std::move(accepted)), audience_(std::move(audience)) {}

ServiceIdentity ServiceTokenVerifier::verify(const std::string& jwt) const {
  auto now = SystemClock::now();
  {
    std::lock_guard lock(mutex_);
    if (auto it = verified_.find(jwt); it != verified_.end()) {
      if (it->second.expires_at > now) return it->second;
      verified_.erase(it);
    }
  }
  ServiceIdentity identity = verifyAnew(jwt);
  std::lock_guard lock(mutex_);
  if (verified_.size() >= kRemembered) {
    for (auto it = verified_.begin(); it != verified_.end();) it = it->second.expires_at <= now ? verified_.erase(it) : std::next(it);
    if (verified_.size() >= kRemembered) verified_.clear();
  }
  verified_.emplace(jwt, identity);
  return identity;
}

ServiceIdentity ServiceTokenVerifier::verifyAnew(const std::string& jwt) const {
  Poco::JWT::Token token = keys_.verify(jwt);
  auto now = SystemClock::now();
  auto audience = token.getAudience();
  if (std::find(audience.begin(), audience.end(), audience_) == audience.end())
    throw Error("the token is not addressed to " + audience_);
  if (!token.payload().has("exp")) throw Error("the token has no expiry");
  auto expires = fromTimestamp(token.getExpiration());
  if (expires <= now) throw Error("the token expired");
  if (!token.payload().has("iat")) throw Error("the token has no issue time");
  auto issued = fromTimestamp(token.getIssuedAt());
  if (issued > now + kClockSkew) throw Error("the token was issued in the future");
  if (expires - issued > kMaxServiceTokenLifetime || expires > now + kMaxServiceTokenLifetime + kClockSkew)
    throw Error("the token lives longer than " + std::to_string(kMaxServiceTokenLifetime.count()) + " s");
  if (token.getSubject().empty()) throw Error("the token names no calling service (sub)");
  return {token.getSubject(), expires};
}

}  // namespace osago::auth
