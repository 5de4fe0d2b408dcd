#pragma once

#include <osago/common/errors.hpp>

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace Poco::JWT {
class Token;
}

namespace osago::auth {

/// The HS256 keys of one kind of token, from the environment: tokens are signed
/// with `secret`; a token signed with `accepted` (when not empty) verifies too,
/// the other key of a rotation (docs/operations.md). Immutable; thread-safe.
class TokenKeys {
 public:
  explicit TokenKeys(std::string secret, std::string accepted = {});
  ~TokenKeys();
  TokenKeys(const TokenKeys&) = delete;
  TokenKeys& operator=(const TokenKeys&) = delete;

  std::string sign(Poco::JWT::Token& token) const;
  /// The token's claims once its signature is one of the two keys'. Throws
  /// osago::Error ("invalid token: …") when it is malformed or forged; the
  /// claims (expiry, audience) are the caller's to check.
  Poco::JWT::Token verify(const std::string& jwt) const;

 private:
  std::string secret_;
  std::string accepted_;
};

/// Who called, as a verified service token says.
struct ServiceIdentity {
  std::string service;  ///< the token's subject: the calling service
  std::chrono::system_clock::time_point expires_at;
};

/// Service tokens live at most this long; a longer one is refused even when
/// its signature is good, so a leaked token is worth minutes, not months.
constexpr std::chrono::seconds kMaxServiceTokenLifetime{900};

/// Mints the short-lived service tokens with which `caller` calls `audience`
/// (JWT HS256: sub = caller, aud = audience, iat, exp). One token is reused
/// until a third of its life is left. Thread-safe.
class ServiceTokenIssuer {
 public:
  ServiceTokenIssuer(std::string secret, std::string caller, std::string audience,
                     std::chrono::seconds lifetime = std::chrono::seconds(300));
  /// The value of an Authorization header: "Bearer <token>".
  std::string authorization();

 private:
  TokenKeys keys_;
  std::string caller_;
  std::string audience_;
  std::chrono::seconds lifetime_;
  std::mutex mutex_;
  std::string current_;
  std::chrono::system_clock::time_point renew_at_{};
};

/// Verifies service tokens addressed to `audience`. Thread-safe.
///
/// A caller reuses one token for minutes (ServiceTokenIssuer), so the last
/// few tokens that verified are remembered with what they said: the same
/// bytes again cost a hash lookup and an expiry check instead of the HMAC and
/// the JSON parsing (6.6 % of a create in a profile). Every other check of a
/// token holds for the rest of its life once it held, so nothing else changes.
class ServiceTokenVerifier {
 public:
  /// How many verified tokens are remembered (a few callers, each rotating its token).
  static constexpr std::size_t kRemembered = 16;

  ServiceTokenVerifier(std::string secret, std::string accepted, std::string audience);
  /// Throws osago::Error naming the reason: malformed or forged, expired,
  /// addressed to another service, issued in the future, living too long, no subject.
  ServiceIdentity verify(const std::string& jwt) const;

 private:
  ServiceIdentity verifyAnew(const std::string& jwt) const;

  TokenKeys keys_;
  std::string audience_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<std::string, ServiceIdentity> verified_;
};

}  // namespace osago::auth
