#include "services/auth/jwt_verifier.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/errors/errors.h"
#include "tests/unit/auth/test_tokens.h"

namespace makegood::auth {
namespace {

using ::makegood::auth::testing::Base64Url;
using ::makegood::auth::testing::EcKeys;
using ::makegood::auth::testing::OtherRsaKeys;
using ::makegood::auth::testing::RsaKeys;
using ::makegood::auth::testing::SignToken;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kIssuer[] = "https://login.example.com/";
constexpr char kAudience[] = "makegood";
constexpr char kHmacSecret[] = "0123456789abcdef0123456789abcdef-shared";
constexpr int64_t kNow = 1900000000;  // 2030-03-17, the tests' fixed "now"

absl::Time Now() { return absl::FromUnixSeconds(kNow); }

// Claims of a token that passes every check.
nlohmann::json GoodClaims() {
  return {{"iss", kIssuer},    {"aud", kAudience}, {"sub", "app-backend-eu"},
          {"exp", kNow + 600}, {"iat", kNow - 10}, {"roles", {"app-backend"}}};
}

JwtVerifier MakeVerifier(JwtAlgorithm algorithm, std::string key) {
  JwtVerifierOptions options;
  options.algorithm = algorithm;
  options.key = std::move(key);
  options.issuer = kIssuer;
  options.audience = kAudience;
  options.leeway = absl::Seconds(30);
  absl::StatusOr<JwtVerifier> verifier = JwtVerifier::Create(options);
  EXPECT_TRUE(verifier.ok()) << verifier.status();
  return *std::move(verifier);
}

JwtVerifier Rs256() {
  return MakeVerifier(JwtAlgorithm::kRs256, RsaKeys().public_pem);
}

// Expects UNAUTHENTICATED with `reason` and a message containing `text`.
void ExpectRefused(const absl::StatusOr<Principal>& result,
                   absl::string_view reason, absl::string_view text) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated)
      << result.status();
  EXPECT_EQ(ErrorReason(result.status()), reason) << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr(text));
}

TEST(JwtVerifier, AcceptsAValidRs256TokenAndNamesItsSubject) {
  std::string token = SignToken("RS256", RsaKeys().private_pem, GoodClaims());
  absl::StatusOr<Principal> principal = Rs256().Verify(token, Now());
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->id, "app-backend-eu");
  EXPECT_EQ(principal->kind, AuthKind::kJwt);
  EXPECT_EQ(principal->roles, RoleSet({Role::kAppBackend}));
}

TEST(JwtVerifier, AcceptsValidHs256AndEs256Tokens) {
  JwtVerifier hs = MakeVerifier(JwtAlgorithm::kHs256, kHmacSecret);
  EXPECT_TRUE(
      hs.Verify(SignToken("HS256", kHmacSecret, GoodClaims()), Now()).ok());
  JwtVerifier es = MakeVerifier(JwtAlgorithm::kEs256, EcKeys().public_pem);
  absl::StatusOr<Principal> principal =
      es.Verify(SignToken("ES256", EcKeys().private_pem, GoodClaims()), Now());
  EXPECT_TRUE(principal.ok()) << principal.status();
}

TEST(JwtVerifier, DropsOneTrailingNewlineOfTheSharedSecretFile) {
  JwtVerifier hs =
      MakeVerifier(JwtAlgorithm::kHs256, absl::StrCat(kHmacSecret, "\n"));
  EXPECT_TRUE(
      hs.Verify(SignToken("HS256", kHmacSecret, GoodClaims()), Now()).ok());
}

TEST(JwtVerifier, RefusesAnExpiredTokenAsExpired) {
  nlohmann::json claims = GoodClaims();
  claims["exp"] = kNow - 31;  // just past the 30 s leeway
  ExpectRefused(
      Rs256().Verify(SignToken("RS256", RsaKeys().private_pem, claims), Now()),
      "TOKEN_EXPIRED", "expired at 2030-03-17T17:46:09Z");
}

TEST(JwtVerifier, AcceptsATokenExpiredWithinTheLeeway) {
  nlohmann::json claims = GoodClaims();
  claims["exp"] = kNow - 30;
  EXPECT_TRUE(
      Rs256()
          .Verify(SignToken("RS256", RsaKeys().private_pem, claims), Now())
          .ok());
}

TEST(JwtVerifier, RefusesATokenWithoutExp) {
  nlohmann::json claims = GoodClaims();
  claims.erase("exp");
  ExpectRefused(
      Rs256().Verify(SignToken("RS256", RsaKeys().private_pem, claims), Now()),
      "TOKEN_INVALID", "\"exp\"");
}

TEST(JwtVerifier, RefusesANonNumericExp) {
  nlohmann::json claims = GoodClaims();
  claims["exp"] = "tomorrow";
  ExpectRefused(
      Rs256().Verify(SignToken("RS256", RsaKeys().private_pem, claims), Now()),
      "TOKEN_INVALID", "\"exp\"");
}

TEST(JwtVerifier, RefusesATokenNotYetValid) {
  nlohmann::json claims = GoodClaims();
  claims["nbf"] = kNow + 120;
  ExpectRefused(
      Rs256().Verify(SignToken("RS256", RsaKeys().private_pem, claims), Now()),
      "TOKEN_INVALID", "not valid before");
}

TEST(JwtVerifier, RefusesAWrongOrMissingIssuer) {
  nlohmann::json claims = GoodClaims();
  claims["iss"] = "https://evil.example.com/";
  ExpectRefused(
      Rs256().Verify(SignToken("RS256", RsaKeys().private_pem, claims), Now()),
      "TOKEN_INVALID", "\"iss\"");
  claims.erase("iss");
  ExpectRefused(
      Rs256().Verify(SignToken("RS256", RsaKeys().private_pem, claims), Now()),
      "TOKEN_INVALID", "\"iss\"");
}

TEST(JwtVerifier, RefusesAWrongOrMissingAudience) {
  nlohmann::json claims = GoodClaims();
  claims["aud"] = "another-service";
  ExpectRefused(
      Rs256().Verify(SignToken("RS256", RsaKeys().private_pem, claims), Now()),
      "TOKEN_INVALID", "\"aud\"");
  claims["aud"] = {"another-service", "third"};
  ExpectRefused(
      Rs256().Verify(SignToken("RS256", RsaKeys().private_pem, claims), Now()),
      "TOKEN_INVALID", "\"aud\"");
  claims.erase("aud");
  ExpectRefused(
      Rs256().Verify(SignToken("RS256", RsaKeys().private_pem, claims), Now()),
      "TOKEN_INVALID", "\"aud\"");
}

TEST(JwtVerifier, AcceptsAnAudienceArrayThatContainsOurs) {
  nlohmann::json claims = GoodClaims();
  claims["aud"] = {"another-service", kAudience};
  EXPECT_TRUE(
      Rs256()
          .Verify(SignToken("RS256", RsaKeys().private_pem, claims), Now())
          .ok());
}

TEST(JwtVerifier, RefusesATokenSignedBySomeoneElse) {
  ExpectRefused(
      Rs256().Verify(
          SignToken("RS256", OtherRsaKeys().private_pem, GoodClaims()), Now()),
      "TOKEN_INVALID", "signature");
  JwtVerifier hs = MakeVerifier(JwtAlgorithm::kHs256, kHmacSecret);
  ExpectRefused(hs.Verify(SignToken("HS256", "another-secret-another-secret-xx",
                                    GoodClaims()),
                          Now()),
                "TOKEN_INVALID", "signature");
}

TEST(JwtVerifier, RefusesATamperedPayload) {
  std::string token = SignToken("RS256", RsaKeys().private_pem, GoodClaims());
  nlohmann::json claims = GoodClaims();
  claims["roles"] = {"admin"};
  size_t first = token.find('.');
  size_t last = token.rfind('.');
  std::string forged = absl::StrCat(
      token.substr(0, first + 1), Base64Url(claims.dump()), token.substr(last));
  ExpectRefused(Rs256().Verify(forged, Now()), "TOKEN_INVALID", "signature");
}

// The "algorithm confusion" attack: the attacker takes the server's RS256
// public key (it is public) and uses it as an HS256 secret. A verifier that
// let the token's header pick the algorithm would check the HMAC with that
// "secret" and accept the forgery.
TEST(JwtVerifier, RefusesHs256SignedWithTheRsaPublicKeyWhenRs256IsConfigured) {
  std::string forged = SignToken("HS256", RsaKeys().public_pem, GoodClaims());
  ExpectRefused(Rs256().Verify(forged, Now()), "TOKEN_INVALID",
                "signed with HS256 but this server accepts only RS256");
}

TEST(JwtVerifier, RefusesRs256WhenHs256IsConfigured) {
  JwtVerifier hs = MakeVerifier(JwtAlgorithm::kHs256, kHmacSecret);
  ExpectRefused(
      hs.Verify(SignToken("RS256", RsaKeys().private_pem, GoodClaims()), Now()),
      "TOKEN_INVALID", "accepts only HS256");
}

TEST(JwtVerifier, RefusesUnsignedTokens) {
  // As libcpp-jwt writes them: "header.payload." with an empty signature.
  std::string unsigned_token = SignToken("none", "", GoodClaims());
  ExpectRefused(Rs256().Verify(unsigned_token, Now()), "TOKEN_INVALID",
                "not a signed JWT");
  // Hand-made, lower-case "none", with something in the signature slot.
  std::string sneaky =
      absl::StrCat(Base64Url(R"({"alg":"none","typ":"JWT"})"), ".",
                   Base64Url(GoodClaims().dump()), ".c2lnbmF0dXJl");
  ExpectRefused(Rs256().Verify(sneaky, Now()), "TOKEN_INVALID", "\"none\"");
}

TEST(JwtVerifier, RefusesMalformedTokensWithoutThrowing) {
  const std::string claims = Base64Url(GoodClaims().dump());
  for (const std::string& token : std::vector<std::string>{
           "",
           "not-a-jwt",
           "a.b",
           "a.b.c.d",
           ".b.c",
           "%%%.***.!!!",
           absl::StrCat(Base64Url("not json"), ".", claims, ".c2ln"),
           absl::StrCat(Base64Url(R"({"typ":"JWT"})"), ".", claims, ".c2ln"),
           absl::StrCat(Base64Url(R"({"alg":7})"), ".", claims, ".c2ln"),
           absl::StrCat(Base64Url(R"({"alg":"RS256"})"), ".",
                        Base64Url("[1,2]"), ".c2ln"),
           std::string(kMaxJwtBytes + 1, 'a'),
       }) {
    ExpectRefused(Rs256().Verify(token, Now()), "TOKEN_INVALID", "");
  }
}

// Found by tests/fuzz/jwt_fuzzer (UBSan): libcpp-jwt's base64 decoder
// indexed its 256-entry table with a negative char for bytes >= 0x80,
// reading outside it. Such tokens are refused before they are decoded.
TEST(JwtVerifier, TokenWithBytesOutsideBase64UrlIsRefusedBeforeDecoding) {
  const JwtVerifier verifier = MakeVerifier(JwtAlgorithm::kHs256, kHmacSecret);
  const std::string good = SignToken("HS256", kHmacSecret, GoodClaims());
  ASSERT_TRUE(verifier.Verify(good, Now()).ok());
  const size_t payload = good.find('.') + 1;
  for (const std::string& bad :
       {std::string("\xff"), std::string("\x80"), std::string("="),
        std::string(" "), std::string("+"), std::string("/")}) {
    std::string token = good;
    token.insert(payload + 3, bad);
    ExpectRefused(verifier.Verify(token, Now()), "TOKEN_INVALID",
                  "not base64url");
  }
}

// Found by tests/fuzz/jwt_fuzzer: libcpp-jwt reads "alg" case-insensitively,
// so {"alg":"hs256"} passed as HS256. JWS algorithm names are
// case-sensitive; only the configured name, exactly, is accepted.
TEST(JwtVerifier, AlgorithmNameInAnotherCaseIsRefused) {
  const JwtVerifier verifier = MakeVerifier(JwtAlgorithm::kHs256, kHmacSecret);
  for (const char* header :
       {R"({"alg":"hs256","typ":"JWT"})", R"({"alg":"Hs256"})"}) {
    const std::string input =
        absl::StrCat(Base64Url(header), ".", Base64Url(GoodClaims().dump()));
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), kHmacSecret, static_cast<int>(strlen(kHmacSecret)),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(),
         mac, &length);
    const std::string token =
        absl::StrCat(input, ".",
                     Base64Url(absl::string_view(
                         reinterpret_cast<const char*>(mac), length)));
    ExpectRefused(verifier.Verify(token, Now()), "TOKEN_INVALID",
                  "is not exactly \"HS256\"");
  }
}

TEST(JwtVerifier, RefusesCriticalHeaderExtensions) {
  // Signed properly, but the header demands an extension we do not know.
  std::string token = SignToken("HS256", kHmacSecret, GoodClaims(),
                                {{"crit", {"exp-v2"}}, {"exp-v2", 1}});
  JwtVerifier hs = MakeVerifier(JwtAlgorithm::kHs256, kHmacSecret);
  ExpectRefused(hs.Verify(token, Now()), "TOKEN_INVALID", "\"crit\"");
}

TEST(JwtVerifier, RefusesASubjectThatIsNotAValidId) {
  nlohmann::json claims = GoodClaims();
  claims["sub"] = "user name with spaces";
  ExpectRefused(
      Rs256().Verify(SignToken("RS256", RsaKeys().private_pem, claims), Now()),
      "TOKEN_INVALID", "\"sub\"");
  claims.erase("sub");
  ExpectRefused(
      Rs256().Verify(SignToken("RS256", RsaKeys().private_pem, claims), Now()),
      "TOKEN_INVALID", "\"sub\"");
}

TEST(JwtVerifier, IgnoresUnknownRolesAndRefusesMalformedOnes) {
  nlohmann::json claims = GoodClaims();
  claims["roles"] = {"agent", "billing-viewer"};
  absl::StatusOr<Principal> principal =
      Rs256().Verify(SignToken("RS256", RsaKeys().private_pem, claims), Now());
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->roles, RoleSet({Role::kAgent}));

  claims.erase("roles");
  principal =
      Rs256().Verify(SignToken("RS256", RsaKeys().private_pem, claims), Now());
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_TRUE(principal->roles.empty());

  claims["roles"] = "admin";
  ExpectRefused(
      Rs256().Verify(SignToken("RS256", RsaKeys().private_pem, claims), Now()),
      "TOKEN_INVALID", "\"roles\"");
}

TEST(JwtVerifier, ReadsThePartnerRole) {
  nlohmann::json claims = GoodClaims();
  claims["sub"] = "courier:courier-1";
  claims["roles"] = {"partner"};
  absl::StatusOr<Principal> principal =
      Rs256().Verify(SignToken("RS256", RsaKeys().private_pem, claims), Now());
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->id, "courier:courier-1");
  EXPECT_EQ(principal->roles, RoleSet({Role::kPartner}));
}

TEST(JwtVerifier, NeverEchoesTheTokenOrTheKey) {
  nlohmann::json claims = GoodClaims();
  claims["exp"] = kNow - 3600;
  std::string token = SignToken("HS256", kHmacSecret, claims);
  JwtVerifier hs = MakeVerifier(JwtAlgorithm::kHs256, kHmacSecret);
  absl::StatusOr<Principal> result = hs.Verify(token, Now());
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), Not(HasSubstr(token)));
  EXPECT_THAT(std::string(result.status().message()),
              Not(HasSubstr(token.substr(token.rfind('.') + 1))));
  EXPECT_THAT(std::string(result.status().message()),
              Not(HasSubstr(kHmacSecret)));
}

TEST(JwtVerifierCreate, RefusesKeysThatDoNotFitTheAlgorithm) {
  JwtVerifierOptions options;
  options.issuer = kIssuer;
  options.audience = kAudience;

  options.algorithm = JwtAlgorithm::kHs256;
  options.key = "too-short";
  EXPECT_THAT(std::string(JwtVerifier::Create(options).status().message()),
              HasSubstr("at least 32 bytes"));

  options.algorithm = JwtAlgorithm::kRs256;
  options.key = RsaKeys().private_pem;
  EXPECT_THAT(std::string(JwtVerifier::Create(options).status().message()),
              HasSubstr("PUBLIC KEY"));

  options.key = EcKeys().public_pem;
  EXPECT_THAT(std::string(JwtVerifier::Create(options).status().message()),
              HasSubstr("RS256 needs an RSA public key"));

  options.algorithm = JwtAlgorithm::kEs256;
  options.key = RsaKeys().public_pem;
  EXPECT_THAT(std::string(JwtVerifier::Create(options).status().message()),
              HasSubstr("ES256 needs an EC P-256 public key"));
}

TEST(JwtVerifierCreate, NamesTheMissingOrBadSetting) {
  JwtVerifierOptions options;
  options.algorithm = JwtAlgorithm::kRs256;
  options.key = RsaKeys().public_pem;
  options.audience = kAudience;
  EXPECT_THAT(std::string(JwtVerifier::Create(options).status().message()),
              HasSubstr("jwt_issuer"));
  options.issuer = kIssuer;
  options.audience = "";
  EXPECT_THAT(std::string(JwtVerifier::Create(options).status().message()),
              HasSubstr("jwt_audience"));
  options.audience = kAudience;
  options.leeway = absl::Hours(1);
  EXPECT_THAT(std::string(JwtVerifier::Create(options).status().message()),
              HasSubstr("jwt_leeway"));
}

TEST(JwtAlgorithmName, RoundTrips) {
  for (JwtAlgorithm algorithm :
       {JwtAlgorithm::kHs256, JwtAlgorithm::kRs256, JwtAlgorithm::kEs256}) {
    EXPECT_EQ(ParseJwtAlgorithm(JwtAlgorithmName(algorithm)), algorithm);
  }
  EXPECT_EQ(ParseJwtAlgorithm("none"), std::nullopt);
  EXPECT_EQ(ParseJwtAlgorithm("hs256"), std::nullopt);
}

}  // namespace
}  // namespace makegood::auth
