#pragma once

#include <osago/common/errors.hpp>
#include <osago/common/signed_tokens.hpp>

#include <chrono>
#include <string>

namespace osago::core {

/// A verified user identity taken from a token.
struct UserIdentity {
  std::string user_id;
  std::chrono::system_clock::time_point expires_at;
};

/// Issues and verifies the users' signed tokens (JWT, HS256, keys from the
/// environment). Tokens are signed with `secret`; a token signed with
/// `accepted` (when not empty) verifies too — the second key of a rotation
/// (docs/operations.md). Immutable; thread-safe.
class TokenService {
 public:
  TokenService(std::string secret, std::chrono::seconds ttl, std::string accepted = {});
  TokenService(const TokenService&) = delete;
  TokenService& operator=(const TokenService&) = delete;

  std::string issue(const std::string& user_id) const;
  /// Throws osago::Error when the token is malformed, forged or expired.
  UserIdentity verify(const std::string& token) const;
  std::chrono::seconds ttl() const { return ttl_; }

 private:
  auth::TokenKeys keys_;
  std::chrono::seconds ttl_;
};

}  // namespace osago::core
