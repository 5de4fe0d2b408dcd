// Bearer tokens, as the browser's (core-app) and the services' (aggregator)
// verifiers take them. The input is a token as sent (forged: it must fail),
// and a header and a payload that the target signs with the right key, so
// that the claims behind a valid signature are fuzzed too (a wrong-typed exp,
// a huge iat, an audience list, no subject). Property: the only failure is
// osago::Error, which both services answer 401; a user token that verifies
// names a subject.
#include "fuzz_support.hpp"

#include "auth/token_service.hpp"

#include <osago/common/errors.hpp>
#include <osago/common/signed_tokens.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace {

const std::string kSecret = "fuzzing-secret-fuzzing-secret-fuzzing-secret";

std::string base64url(std::string_view bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                 static_cast<unsigned char>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (std::size_t rest = bytes.size() - i; rest > 0) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    if (rest == 2) out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

std::string signedToken(std::string_view header, std::string_view payload) {
  std::string input = base64url(header) + "." + base64url(payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()), reinterpret_cast<const unsigned char*>(input.data()),
       input.size(), mac, &length);
  return input + "." + base64url(std::string_view(reinterpret_cast<const char*>(mac), length));
}

void verifyBoth(const std::string& token) {
  static const osago::core::TokenService users(kSecret, std::chrono::seconds(600));
  static const osago::auth::ServiceTokenVerifier services(kSecret, "", "osago-aggregator");
  try {
    auto user = users.verify(token);
    OSAGO_FUZZ_CHECK(!user.user_id.empty(), token);
  } catch (const osago::Error&) {
  }
  try {
    auto caller = services.verify(token);
    OSAGO_FUZZ_CHECK(!caller.service.empty(), token);
  } catch (const osago::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto p = osago::fuzz::parts(osago::fuzz::text(data, size), 3);
  verifyBoth(std::string(p[0]));
  if (p.size() == 3) verifyBoth(signedToken(p[1], p[2]));
  return 0;
}
