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

}  // namespace
