// File: tests/fuzz/jwt_fuzzer.cc
//
// JwtVerifier::Verify. Two verifiers: HS256 with kJwtSecret, and ES256 with a
// P-256 public key. The input chooses one of:
//   - a raw token (any bytes), checked against the HS256 and ES256 verifiers;
//   - a token built from fuzzed choices of header and claims (algorithm,
//     exp, nbf, iss, aud, sub, roles, crit, extra fields) and signed by us
//     with the real secret, a wrong secret, the ES256 public key PEM as an
//     HMAC secret (algorithm confusion), or not at all;
//   - a validly signed token with fuzzed bytes spliced in.
// Properties:
//   - nothing is ever accepted that is not HS256-signed with the real
//     secret (recomputed independently with OpenSSL: IsSignedBy) and whose
//     header says HS256; the ES256 verifier accepts nothing (we never hold
//     its private key);
//   - for built tokens the verdict is exactly the documented rule set
//     (jwt_verifier.h): exp present, numeric and not passed (with leeway),
//     nbf numeric and reached, iss and aud match, sub a valid id, roles an
//     array of strings, no crit; the principal is sub with the known roles;
//   - never a crash, an exception or UB.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "services/auth/jwt_verifier.h"
#include "services/auth/principal.h"
#include "services/auth/role.h"
#include "services/core/text.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/jwt_support.h"

namespace {

namespace auth = makegood::auth;
namespace fz = makegood::fuzz;
using json = nlohmann::json;

const auth::JwtVerifier& Hs256() {
  static const auto* verifier = [] {
    auto v = auth::JwtVerifier::Create(
        {.algorithm = auth::JwtAlgorithm::kHs256,
         .key = std::string(fz::kJwtSecret),
         .issuer = std::string(fz::kJwtIssuer),
         .audience = std::string(fz::kJwtAudience),
         .leeway = absl::Seconds(fz::kJwtLeewaySeconds)});
    FUZZ_CHECK(v.ok()) << v.status();
    return new auth::JwtVerifier(*std::move(v));
  }();
  return *verifier;
}

const auth::JwtVerifier& Es256() {
  static const auto* verifier = [] {
    auto v = auth::JwtVerifier::Create(
        {.algorithm = auth::JwtAlgorithm::kEs256,
         .key = fz::EcPublicPem(),
         .issuer = std::string(fz::kJwtIssuer),
         .audience = std::string(fz::kJwtAudience),
         .leeway = absl::Seconds(fz::kJwtLeewaySeconds)});
    FUZZ_CHECK(v.ok()) << v.status();
    return new auth::JwtVerifier(*std::move(v));
  }();
  return *verifier;
}

// Whatever the HS256 verifier accepted must be signed with the secret and
// say HS256; the ES256 verifier must accept nothing.
void CheckOracle(const std::string& token) {
  absl::StatusOr<auth::Principal> hs = Hs256().Verify(token, fz::kJwtNow);
  if (hs.ok()) {
    FUZZ_CHECK(fz::IsSignedBy(token, fz::kJwtSecret))
        << "accepted a token not signed with the secret: " << token;
    json header = json::parse(fz::DecodedPart(token, 0), nullptr, false);
    FUZZ_CHECK(header.is_object() && header.contains("alg") &&
               header["alg"] == "HS256")
        << "accepted a token whose header is not HS256: " << token;
    FUZZ_CHECK(makegood::IsValidId(hs->id)) << hs->id;
    FUZZ_CHECK(hs->kind == auth::AuthKind::kJwt);
  } else {
    FUZZ_CHECK(hs.status().code() == absl::StatusCode::kUnauthenticated)
        << hs.status();
  }
  absl::StatusOr<auth::Principal> es = Es256().Verify(token, fz::kJwtNow);
  FUZZ_CHECK(!es.ok()) << "the ES256 verifier accepted a token without the "
                          "private key: "
                       << token;
  FUZZ_CHECK(es.status().code() == absl::StatusCode::kUnauthenticated)
      << es.status();
}

// A JSON value other than a string or number, or a fuzzed string.
json Junk(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 5)) {
    case 0:
      return nullptr;
    case 1:
      return in.ConsumeBool();
    case 2:
      return json::array({in.ConsumeRandomLengthString(16)});
    case 3:
      return json::object();
    case 4:
      return in.ConsumeIntegral<int32_t>();
    default:
      return in.ConsumeRandomLengthString(32);
  }
}

// A time claim, or nullopt to leave it out: around now to the second and
// to the quarter second (the leeway boundaries), anywhere in int64, any
// finite double (e.g. 1e300), or not a number.
std::optional<json> TimeClaim(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 6)) {
    case 0:
      return std::nullopt;
    case 1:
    case 2:
      return json(fz::kJwtNowSeconds + in.ConsumeIntegralInRange(-120, 120));
    case 3:
      return json(static_cast<double>(fz::kJwtNowSeconds +
                                      in.ConsumeIntegralInRange(-40, 40)) +
                  (in.ConsumeBool() ? 0.25 : 0.75));
    case 4:
      return json(in.ConsumeIntegral<int64_t>());
    case 5: {
      double t = in.ConsumeFloatingPoint<double>();
      return json(std::isfinite(t) ? t : 0.0);
    }
    default:
      return Junk(in);
  }
}

// The documented rules (jwt_verifier.h), applied to the header and claims
// as the token carries them, for a token signed with the real secret.
bool Acceptable(const json& header, const json& claims) {
  if (!header.is_object() || !header.contains("alg") ||
      header["alg"] != "HS256" || header.contains("crit")) {
    return false;
  }
  if (!claims.is_object()) return false;
  const double now = static_cast<double>(fz::kJwtNowSeconds);
  const double leeway = static_cast<double>(fz::kJwtLeewaySeconds);
  if (!claims.contains("exp") || !claims["exp"].is_number() ||
      now > claims["exp"].get<double>() + leeway) {
    return false;
  }
  if (claims.contains("nbf") && (!claims["nbf"].is_number() ||
                                 now + leeway < claims["nbf"].get<double>())) {
    return false;
  }
  const json issuer = std::string(fz::kJwtIssuer);
  const json audience = std::string(fz::kJwtAudience);
  if (!claims.contains("iss") || claims["iss"] != issuer) return false;
  if (!claims.contains("aud")) return false;
  const json& aud = claims["aud"];
  if (!(aud == audience ||
        (aud.is_array() &&
         std::any_of(aud.begin(), aud.end(),
                     [&](const json& a) { return a == audience; })))) {
    return false;
  }
  if (!claims.contains("sub") || !claims["sub"].is_string() ||
      !makegood::IsValidId(claims["sub"].get<std::string>())) {
    return false;
  }
  if (claims.contains("roles")) {
    const json& roles = claims["roles"];
    if (!roles.is_array() ||
        !std::all_of(roles.begin(), roles.end(),
                     [](const json& r) { return r.is_string(); })) {
      return false;
    }
  }
  return true;
}

auth::RoleSet KnownRoles(const json& claims) {
  auth::RoleSet set;
  if (!claims.contains("roles") || !claims["roles"].is_array()) return set;
  for (const json& r : claims["roles"]) {
    if (!r.is_string()) continue;
    if (auto role = auth::ParseRole(r.get<std::string>())) set.Add(*role);
  }
  return set;
}

struct Built {
  std::string token;
  bool expect_accept = false;
  std::string sub;
  auth::RoleSet roles;
};

// JSON text; invalid UTF-8 in fuzzed strings becomes U+FFFD.
std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Built Build(FuzzedDataProvider& in) {
  json header = json::object();
  static const char* const kAlgs[] = {"HS256", "HS256", "HS256", "RS256",
                                      "ES256", "none",  "hs256", "HS512",
                                      "None",  "HS384"};
  const size_t alg_choice = in.ConsumeIntegralInRange<size_t>(0, 10);
  header["alg"] = alg_choice < 10 ? json(kAlgs[alg_choice]) : Junk(in);
  if (in.ConsumeBool()) header["typ"] = "JWT";
  if (in.ConsumeIntegralInRange(0, 7) == 0) {
    header["crit"] = json::array({"exp"});
  }
  if (in.ConsumeIntegralInRange(0, 7) == 0) header["kid"] = Junk(in);

  json claims = json::object();
  if (std::optional<json> exp = TimeClaim(in)) claims["exp"] = *exp;
  if (std::optional<json> nbf = TimeClaim(in)) claims["nbf"] = *nbf;
  switch (in.ConsumeIntegralInRange(0, 3)) {
    case 0:
    case 1:
      claims["iss"] = fz::kJwtIssuer;
      break;
    case 2:
      claims["iss"] = Junk(in);
      break;
    default:
      break;
  }
  switch (in.ConsumeIntegralInRange(0, 4)) {
    case 0:
    case 1:
      claims["aud"] = fz::kJwtAudience;
      break;
    case 2:
      claims["aud"] = json::array({Junk(in), fz::kJwtAudience});
      break;
    case 3:
      claims["aud"] = Junk(in);
      break;
    default:
      break;
  }
  if (in.ConsumeIntegralInRange(0, 7) != 0) {
    claims["sub"] = in.ConsumeRandomLengthString(140);
  }
  switch (in.ConsumeIntegralInRange(0, 3)) {
    case 0:
      break;
    case 1:
    case 2: {
      json roles = json::array();
      static const char* const kNames[] = {
          "app-backend", "order-system", "agent", "admin", "Admin", "root"};
      const int n = in.ConsumeIntegralInRange(0, 4);
      for (int i = 0; i < n; ++i) {
        roles.push_back(kNames[in.ConsumeIntegralInRange<size_t>(0, 5)]);
      }
      claims["roles"] = roles;
      break;
    }
    default:
      claims["roles"] = Junk(in);
  }
  if (in.ConsumeIntegralInRange(0, 7) == 0) claims["jti"] = Junk(in);

  const std::string header_text = Dump(header);
  const std::string claims_text = Dump(claims);
  // The model judges what the token carries (after any U+FFFD replacement).
  const json carried = json::parse(claims_text);
  Built b;
  b.expect_accept = Acceptable(json::parse(header_text), carried);
  if (carried.contains("sub") && carried["sub"].is_string()) {
    b.sub = carried["sub"].get<std::string>();
  }
  b.roles = KnownRoles(carried);
  switch (in.ConsumeIntegralInRange(0, 5)) {
    case 0:
    case 1:
    case 2:
      b.token = fz::SignHs256(header_text, claims_text, fz::kJwtSecret);
      break;
    case 3:  // Another secret (the real one with its last byte changed).
      b.token = fz::SignHs256(
          header_text, claims_text,
          std::string(fz::kJwtSecret.substr(0, fz::kJwtSecret.size() - 1)) +
              "X");
      b.expect_accept = false;
      break;
    case 4:  // Algorithm confusion: the ES256 public key as HMAC secret.
      b.token = fz::SignHs256(header_text, claims_text, fz::EcPublicPem());
      b.expect_accept = false;
      break;
    default:  // A fuzzed signature (possibly empty: unsigned).
      b.token = absl::StrCat(fz::Base64Url(header_text), ".",
                             fz::Base64Url(claims_text), ".",
                             fz::Base64Url(in.ConsumeRandomLengthString(64)));
      b.expect_accept = false;
  }
  return b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  switch (in.ConsumeIntegralInRange(0, 2)) {
    case 0: {
      CheckOracle(in.ConsumeRemainingBytesAsString());
      break;
    }
    case 1: {
      Built b = Build(in);
      CheckOracle(b.token);
      absl::StatusOr<auth::Principal> who =
          Hs256().Verify(b.token, fz::kJwtNow);
      FUZZ_CHECK(who.ok() == b.expect_accept)
          << (b.expect_accept ? "refused a valid token: " : "accepted: ")
          << who.status() << " " << fz::DecodedPart(b.token, 0) << " "
          << fz::DecodedPart(b.token, 1);
      if (who.ok()) {
        FUZZ_CHECK(who->id == b.sub);
        FUZZ_CHECK(who->roles == b.roles)
            << who->roles.ToString() << " vs " << b.roles.ToString();
      }
      break;
    }
    default: {
      // A valid token with bytes spliced in somewhere.
      std::string token = fz::SignHs256(
          R"({"alg":"HS256","typ":"JWT"})",
          absl::StrCat(R"({"sub":"app-1","iss":")", fz::kJwtIssuer,
                       R"(","aud":")", fz::kJwtAudience, R"(","exp":)",
                       fz::kJwtNowSeconds + 60, "}"),
          fz::kJwtSecret);
      const size_t at = in.ConsumeIntegralInRange<size_t>(0, token.size());
      const size_t erase = in.ConsumeIntegralInRange<size_t>(0, 4);
      token.erase(at, erase);
      token.insert(std::min(at, token.size()),
                   in.ConsumeRemainingBytesAsString());
      CheckOracle(token);
    }
  }
  return 0;
}
