#include "auth/token_service.hpp"

#include <osago/common/signed_tokens.hpp>

#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>

#include <gtest/gtest.h>

#include <optional>
#include <thread>
#include <vector>

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

using osago::auth::ServiceTokenIssuer;
using osago::auth::ServiceTokenVerifier;

/// A token of the service key with the claims given (absent when not), as a forger holding the key could mint.
std::string serviceToken(const std::string& key, const std::string& sub, const std::string& aud,
                         std::optional<long> issued_ago_s, std::optional<long> expires_in_s) {
  Poco::JWT::Token token;
  token.setType("JWT");
  if (!sub.empty()) token.setSubject(sub);
  if (!aud.empty()) token.setAudience(aud);
  Poco::Timestamp now;
  if (issued_ago_s) token.setIssuedAt(now - Poco::Timespan(*issued_ago_s, 0));
  if (expires_in_s) token.setExpiration(now + Poco::Timespan(*expires_in_s, 0));
  return Poco::JWT::Signer(key).sign(token, Poco::JWT::Signer::ALGO_HS256);
}

std::string reasonOf(const ServiceTokenVerifier& v, const std::string& jwt) {
  try {
    v.verify(jwt);
  } catch (const osago::Error& e) {
    return e.what();
  }
  return "";
}

std::string bare(const std::string& authorization) { return authorization.substr(std::string("Bearer ").size()); }

TEST(ServiceToken, AnIssuedTokenNamesTheCallerAndIsReusedUntilRenewal) {
  ServiceTokenIssuer issuer(kKey, "core-app", "osago-aggregator");
  ServiceTokenVerifier verifier(kKey, "", "osago-aggregator");
  std::string first = issuer.authorization();
  ASSERT_EQ(first.rfind("Bearer ", 0), 0u);
  auto id = verifier.verify(bare(first));
  EXPECT_EQ(id.service, "core-app");
  EXPECT_GT(id.expires_at, std::chrono::system_clock::now() + std::chrono::seconds(240));
  EXPECT_LE(id.expires_at, std::chrono::system_clock::now() + std::chrono::seconds(300));
  EXPECT_EQ(issuer.authorization(), first) << "one token serves many calls";
}

TEST(ServiceToken, EachBadTokenIsRefusedWithItsReason) {
  ServiceTokenVerifier v(kKey, "", "osago-aggregator");
  const std::string other_key = "ffffffffffffffffffffffffffffffff";
  EXPECT_EQ(reasonOf(v, serviceToken(kKey, "core-app", "osago-aggregator", 0, 60)), "");
  EXPECT_NE(reasonOf(v, serviceToken(other_key, "core-app", "osago-aggregator", 0, 60)).find("invalid token"), std::string::npos);
  EXPECT_NE(reasonOf(v, serviceToken(kKey, "core-app", "core-app", 0, 60)).find("not addressed to osago-aggregator"),
            std::string::npos);
  EXPECT_NE(reasonOf(v, serviceToken(kKey, "core-app", "", 0, 60)).find("not addressed"), std::string::npos);
  EXPECT_NE(reasonOf(v, serviceToken(kKey, "core-app", "osago-aggregator", 120, -1)).find("expired"), std::string::npos);
  EXPECT_NE(reasonOf(v, serviceToken(kKey, "core-app", "osago-aggregator", 0, std::nullopt)).find("no expiry"),
            std::string::npos);
  EXPECT_NE(reasonOf(v, serviceToken(kKey, "core-app", "osago-aggregator", std::nullopt, 60)).find("no issue time"),
            std::string::npos);
  EXPECT_NE(reasonOf(v, serviceToken(kKey, "core-app", "osago-aggregator", -600, 900)).find("in the future"),
            std::string::npos);
  EXPECT_NE(reasonOf(v, serviceToken(kKey, "core-app", "osago-aggregator", 0, 86400)).find("lives longer"),
            std::string::npos)
      << "a day-long token minted with the key is still refused";
  EXPECT_NE(reasonOf(v, serviceToken(kKey, "", "osago-aggregator", 0, 60)).find("names no calling service"),
            std::string::npos);
  // An unsigned token ("alg": "none") whose claims are all right.
  std::string good = serviceToken(kKey, "core-app", "osago-aggregator", 0, 60);
  std::string payload = good.substr(good.find('.') + 1, good.rfind('.') - good.find('.') - 1);
  EXPECT_NE(reasonOf(v, "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + payload + "."), "");
  EXPECT_NE(reasonOf(v, "not-a-token"), "");
  EXPECT_NE(reasonOf(v, std::string(100000, 'a') + "." + std::string(100000, 'b') + ".c"), "");
  // A user's token of core-app (another key, no audience) is no service token.
  EXPECT_NE(reasonOf(v, TokenService("u" + kKey, std::chrono::seconds(60)).issue("alice")), "");
}

TEST(ServiceToken, ARememberedTokenStillExpiresAndTheMemoryIsBounded) {
  ServiceTokenVerifier v(kKey, "", "osago-aggregator");
  std::string brief = serviceToken(kKey, "core-app", "osago-aggregator", 0, 1);
  ASSERT_EQ(reasonOf(v, brief), "");
  ASSERT_EQ(reasonOf(v, brief), "") << "verified again from memory";
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_NE(reasonOf(v, brief).find("expired"), std::string::npos) << "remembered is not forever";
  // More distinct good tokens than are remembered: each keeps verifying.
  std::vector<std::string> many;
  for (std::size_t i = 0; i < 3 * ServiceTokenVerifier::kRemembered; ++i)
    many.push_back(serviceToken(kKey, "caller-" + std::to_string(i), "osago-aggregator", 0, 60));
  for (int round = 0; round < 2; ++round)
    for (std::size_t i = 0; i < many.size(); ++i) EXPECT_EQ(v.verify(many[i]).service, "caller-" + std::to_string(i));
  // A remembered token with one byte changed is verified afresh, and fails.
  std::string tampered = many[0];
  char& c = tampered[tampered.size() - 10];  // inside the signature, clear of base64's spare bits
  c = c == 'A' ? 'B' : 'A';
  EXPECT_NE(reasonOf(v, tampered).find("invalid token"), std::string::npos);
}

TEST(ServiceToken, ClaimsOfTheWrongTypeOrSizeAreRefusedByBothVerifiers) {
  // Signed with the right key, so only the claims are wrong (the fuzz target
  // tokens found the huge exp: it overflowed the clock's arithmetic).
  ServiceTokenVerifier services(kKey, "", "osago-aggregator");
  TokenService users(kKey, std::chrono::seconds(60));
  auto signedWith = [&](const std::string& claim, Poco::Dynamic::Var value) {
    Poco::JWT::Token token;
    token.setSubject("core-app");
    token.setAudience("osago-aggregator");
    token.setIssuedAt(Poco::Timestamp());
    token.setExpiration(Poco::Timestamp() + Poco::Timespan(60, 0));
    token.payload().set(claim, value);
    return Poco::JWT::Signer(kKey).sign(token, Poco::JWT::Signer::ALGO_HS256);
  };
  const std::pair<std::string, Poco::Dynamic::Var> bad[] = {
      {"exp", 41024448020000000.0}, {"exp", "soon"}, {"exp", -1}, {"iat", 1e308},
      {"sub", 5},                   {"aud", 7},      {"nbf", "x"}};
  for (const auto& [claim, value] : bad) {
    std::string jwt = signedWith(claim, value);
    EXPECT_NE(reasonOf(services, jwt).find("claim '" + claim + "'"), std::string::npos) << claim << " " << value.toString();
    try {
      users.verify(jwt);
      ADD_FAILURE() << claim << " " << value.toString() << " verified as a user token";
    } catch (const osago::Error& e) {
      EXPECT_NE(std::string(e.what()).find("claim '" + claim + "'"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(reasonOf(services, signedWith("jti", "id-1")), "") << "a well-typed claim passes";
}

TEST(ServiceToken, DuringARotationBothKeysVerify) {
  const std::string old_key = "old-old-old-old-old-old-old-old-old!";
  const std::string new_key = "new-new-new-new-new-new-new-new-new!";
  ServiceTokenVerifier rotating(new_key, old_key, "osago-aggregator");
  ServiceTokenVerifier after(new_key, "", "osago-aggregator");
  ServiceTokenIssuer old_caller(old_key, "core-app", "osago-aggregator");
  ServiceTokenIssuer new_caller(new_key, "core-app", "osago-aggregator");
  EXPECT_EQ(rotating.verify(bare(old_caller.authorization())).service, "core-app");
  EXPECT_EQ(rotating.verify(bare(new_caller.authorization())).service, "core-app");
  EXPECT_EQ(after.verify(bare(new_caller.authorization())).service, "core-app");
  EXPECT_THROW(after.verify(bare(old_caller.authorization())), osago::Error);
  EXPECT_NE(reasonOf(rotating, serviceToken(old_key, "core-app", "core-app", 0, 60)).find("not addressed"),
            std::string::npos)
      << "the accepted key does not excuse the claims";
}

}  // namespace
