#include "auth/token_service.hpp"

#include <gtest/gtest.h>

namespace {

using osago::core::TokenService;
const std::string kKey = "0123456789abcdef0123456789abcdef";

TEST(TokenService, IssuedTokenVerifiesToTheSameUser) {
  TokenService t(kKey, std::chrono::seconds(60));
  auto id = t.verify(t.issue("alice"));
  EXPECT_EQ(id.user_id, "alice");
  EXPECT_GT(id.expires_at, std::chrono::system_clock::now());
}

TEST(TokenService, ForgedTamperedOrExpiredTokensAreRejected) {
  TokenService t(kKey, std::chrono::seconds(60));
  TokenService other("ffffffffffffffffffffffffffffffff", std::chrono::seconds(60));
  EXPECT_THROW(t.verify(other.issue("alice")), osago::Error);
  std::string token = t.issue("alice");
  token[token.size() / 2] = token[token.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_THROW(t.verify(token), osago::Error);
  EXPECT_THROW(t.verify("not-a-token"), osago::Error);
  TokenService expired(kKey, std::chrono::seconds(-1));
  EXPECT_THROW(t.verify(expired.issue("alice")), osago::Error);
}

TEST(TokenService, DuringARotationTokensOfBothKeysVerifyAndNewOnesUseTheFirst) {
  const std::string old_key = "old-old-old-old-old-old-old-old-old!";
  const std::string new_key = "new-new-new-new-new-new-new-new-new!";
  TokenService before(old_key, std::chrono::seconds(60));
  TokenService phase1(old_key, std::chrono::seconds(60), new_key);  // signs old, accepts new
  TokenService phase2(new_key, std::chrono::seconds(60), old_key);  // signs new, accepts old
  TokenService after(new_key, std::chrono::seconds(60));
  // Any instance of phase 1 or 2 accepts what any other instance of the rollout issued.
  for (const TokenService* verifier : {&phase1, &phase2})
    for (const TokenService* issuer : {&before, &phase1, &phase2})
      EXPECT_EQ(verifier->verify(issuer->issue("alice")).user_id, "alice");
  EXPECT_THROW(before.verify(phase2.issue("alice")), osago::Error) << "phase 2 signs with the new key";
  EXPECT_THROW(after.verify(phase1.issue("alice")), osago::Error) << "after the rotation the old key is gone";
  // The accepted key does not excuse expiry or tampering.
  TokenService expired(new_key, std::chrono::seconds(-1));
  EXPECT_THROW(phase1.verify(expired.issue("alice")), osago::Error);
  std::string token = phase2.issue("alice");
  token[token.size() / 2] = token[token.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_THROW(phase1.verify(token), osago::Error);
}

}  // namespace
