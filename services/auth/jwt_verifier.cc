#include "services/auth/jwt_verifier.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <system_error>

// libcpp-jwt is header-only and defines globals (json_t, system_time_t):
// included here only, never from a header.
#include <jwt/jwt.hpp>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "services/core/text.h"
#include "services/errors/errors.h"

namespace makegood::auth {
namespace {

constexpr size_t kMinHmacSecretBytes = 32;

absl::Status Invalid(absl::string_view message) {
  return ErrorWithReason(absl::StatusCode::kUnauthenticated, "TOKEN_INVALID",
                         absl::StrCat("bearer token rejected: ", message));
}

jwt::algorithm LibraryAlgorithm(JwtAlgorithm algorithm) {
  switch (algorithm) {
    case JwtAlgorithm::kHs256:
      return jwt::algorithm::HS256;
    case JwtAlgorithm::kRs256:
      return jwt::algorithm::RS256;
    case JwtAlgorithm::kEs256:
      return jwt::algorithm::ES256;
  }
  return jwt::algorithm::UNKN;
}

std::string FormatUnixTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// Checks that `pem` is a public key of the kind `algorithm` needs.
absl::Status CheckPublicKey(JwtAlgorithm algorithm, const std::string& pem) {
  std::unique_ptr<BIO, int (*)(BIO*)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (bio == nullptr) return absl::ResourceExhaustedError("BIO_new_mem_buf");
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key(
      PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr),
      &EVP_PKEY_free);
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "jwt_key: not a \"PUBLIC KEY\" PEM; ", JwtAlgorithmName(algorithm),
        " needs the issuer's public key (never its private key)"));
  }
  int type = EVP_PKEY_get_base_id(key.get());
  if (algorithm == JwtAlgorithm::kRs256 && type != EVP_PKEY_RSA) {
    return absl::InvalidArgumentError("jwt_key: RS256 needs an RSA public key");
  }
  if (algorithm == JwtAlgorithm::kRs256 &&
      EVP_PKEY_get_bits(key.get()) < 2048) {
    return absl::InvalidArgumentError(
        "jwt_key: RSA keys shorter than 2048 bits are refused");
  }
  if (algorithm == JwtAlgorithm::kEs256 &&
      (type != EVP_PKEY_EC || EVP_PKEY_get_bits(key.get()) != 256)) {
    return absl::InvalidArgumentError(
        "jwt_key: ES256 needs an EC P-256 public key");
  }
  return absl::OkStatus();
}

// The claim `name` as a time, if it is present and a number.
std::optional<absl::Time> TimeClaim(const json_t& claims,
                                    const std::string& name) {
  auto it = claims.find(name);
  if (it == claims.end() || !it->is_number()) return std::nullopt;
  return absl::UnixEpoch() + absl::Seconds(it->get<double>());
}

bool AudienceMatches(const json_t& aud, const std::string& audience) {
  if (aud.is_string()) return aud.get<std::string>() == audience;
  if (!aud.is_array()) return false;
  return std::any_of(aud.begin(), aud.end(), [&](const json_t& item) {
    return item.is_string() && item.get<std::string>() == audience;
  });
}

}  // namespace

absl::string_view JwtAlgorithmName(JwtAlgorithm algorithm) {
  switch (algorithm) {
    case JwtAlgorithm::kHs256:
      return "HS256";
    case JwtAlgorithm::kRs256:
      return "RS256";
    case JwtAlgorithm::kEs256:
      return "ES256";
  }
  return "unknown";
}

std::optional<JwtAlgorithm> ParseJwtAlgorithm(absl::string_view name) {
  for (JwtAlgorithm algorithm :
       {JwtAlgorithm::kHs256, JwtAlgorithm::kRs256, JwtAlgorithm::kEs256}) {
    if (JwtAlgorithmName(algorithm) == name) return algorithm;
  }
  return std::nullopt;
}

absl::StatusOr<JwtVerifier> JwtVerifier::Create(JwtVerifierOptions options) {
  if (options.issuer.empty()) {
    return absl::InvalidArgumentError(
        "jwt_issuer: required when JWT authentication is on");
  }
  if (options.audience.empty()) {
    return absl::InvalidArgumentError(
        "jwt_audience: required when JWT authentication is on");
  }
  if (options.leeway < absl::ZeroDuration() || options.leeway > kMaxJwtLeeway) {
    return absl::InvalidArgumentError(
        absl::StrCat("jwt_leeway: must be between 0s and ",
                     absl::FormatDuration(kMaxJwtLeeway)));
  }
  if (options.algorithm == JwtAlgorithm::kHs256) {
    absl::string_view secret = options.key;
    if (!absl::ConsumeSuffix(&secret, "\r\n")) {
      absl::ConsumeSuffix(&secret, "\n");
    }
    options.key = std::string(secret);
    if (options.key.size() < kMinHmacSecretBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("jwt_key: an HS256 secret must be at least ",
                       kMinHmacSecretBytes, " bytes"));
    }
  } else if (absl::Status status =
                 CheckPublicKey(options.algorithm, options.key);
             !status.ok()) {
    return status;
  }
  return JwtVerifier(std::move(options));
}

absl::StatusOr<Principal> JwtVerifier::Verify(absl::string_view token,
                                              absl::Time now) const {
  if (token.empty()) return Invalid("the token is empty");
  if (token.size() > kMaxJwtBytes) {
    return Invalid(absl::StrCat("longer than ", kMaxJwtBytes, " bytes"));
  }
  // header.payload.signature, all three non-empty: this also refuses
  // unsigned "header.payload." tokens before they are parsed.
  size_t first_dot = token.find('.');
  size_t last_dot = token.rfind('.');
  if (first_dot == absl::string_view::npos || first_dot == last_dot ||
      token.find('.', first_dot + 1) != last_dot || first_dot == 0 ||
      last_dot == first_dot + 1 || last_dot + 1 == token.size()) {
    return Invalid("not a signed JWT (header.payload.signature)");
  }
  // Only the base64url alphabet (RFC 7515: no padding) and the two dots.
  // libcpp-jwt's base64 decoder indexes its table with the raw char, so any
  // other byte (>= 0x80 is negative) would read outside the table.
  if (!std::all_of(token.begin(), token.end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
               c == '_' || c == '.';
      })) {
    return Invalid("not base64url (A-Z a-z 0-9 - _, parts joined by '.')");
  }
  const absl::string_view signing_input = token.substr(0, last_dot);
  const absl::string_view signature = token.substr(last_dot + 1);

  // libcpp-jwt reports most errors through error_code but its JSON access
  // can throw (e.g. a non-string "alg"); nothing may escape to the caller.
  try {
    std::error_code ec;
    const absl::string_view alg_name = JwtAlgorithmName(options_.algorithm);
    // verify(false): parse only. The algorithm, signature and claims are
    // checked below, against our configuration and our clock.
    jwt::jwt_object object =
        jwt::decode(jwt::string_view(token.data(), token.size()),
                    jwt::params::algorithms(
                        {jwt::string_view(alg_name.data(), alg_name.size())}),
                    ec, jwt::params::verify(false));
    if (ec) {
      return Invalid(absl::StrCat("malformed (", ec.message(), ")"));
    }
    const jwt::algorithm alg = object.header().algo();
    if (alg == jwt::algorithm::NONE) {
      return Invalid("unsigned tokens (alg \"none\") are not accepted");
    }
    if (alg != LibraryAlgorithm(options_.algorithm)) {
      jwt::string_view name = jwt::alg_to_str(alg);
      return Invalid(absl::StrCat("signed with ",
                                  absl::string_view(name.data(), name.size()),
                                  " but this server accepts only ",
                                  JwtAlgorithmName(options_.algorithm)));
    }
    // libcpp-jwt reads "alg" case-insensitively ("hs256" is HS256); JWS
    // names are case-sensitive (RFC 7515 4.1.1), and we accept exactly ours.
    std::string header_text;
    if (!absl::WebSafeBase64Unescape(token.substr(0, first_dot),
                                     &header_text)) {
      return Invalid("the header is not base64url");
    }
    const json_t header = json_t::parse(header_text, nullptr, false);
    if (!header.is_object() || !header.contains("alg") ||
        !header["alg"].is_string() ||
        header["alg"].get<std::string>() != alg_name) {
      return Invalid(absl::StrCat("the header's \"alg\" is not exactly \"",
                                  alg_name, "\""));
    }
    if (object.header().has_header("crit")) {
      return Invalid("critical header extensions (\"crit\") are not supported");
    }
    jwt::jwt_signature verifier{
        jwt::string_view(options_.key.data(), options_.key.size())};
    jwt::verify_result_t verified = verifier.verify(
        object.header(),
        jwt::string_view(signing_input.data(), signing_input.size()),
        jwt::string_view(signature.data(), signature.size()));
    if (verified.second || !verified.first) {
      return Invalid("the signature does not verify");
    }

    const json_t& claims = object.payload().create_json_obj();
    if (!claims.is_object()) return Invalid("the payload is not an object");
    std::optional<absl::Time> exp = TimeClaim(claims, "exp");
    if (!exp.has_value()) {
      return Invalid("no numeric \"exp\" claim (tokens must expire)");
    }
    if (now > *exp + options_.leeway) {
      return ErrorWithReason(absl::StatusCode::kUnauthenticated,
                             "TOKEN_EXPIRED",
                             absl::StrCat("bearer token rejected: expired at ",
                                          FormatUnixTime(*exp)));
    }
    if (claims.contains("nbf")) {
      std::optional<absl::Time> nbf = TimeClaim(claims, "nbf");
      if (!nbf.has_value()) return Invalid("\"nbf\" is not a number");
      if (now + options_.leeway < *nbf) {
        return Invalid(absl::StrCat("not valid before ", FormatUnixTime(*nbf)));
      }
    }
    auto iss = claims.find("iss");
    if (iss == claims.end() || !iss->is_string() ||
        iss->get<std::string>() != options_.issuer) {
      return Invalid(absl::StrCat("\"iss\" is not the configured issuer \"",
                                  options_.issuer, "\""));
    }
    auto aud = claims.find("aud");
    if (aud == claims.end() || !AudienceMatches(*aud, options_.audience)) {
      return Invalid(
          absl::StrCat("\"aud\" does not include \"", options_.audience, "\""));
    }
    auto sub = claims.find("sub");
    if (sub == claims.end() || !sub->is_string() ||
        !IsValidId(sub->get<std::string>())) {
      return Invalid(
          "\"sub\" must be 1-128 characters of [A-Za-z0-9._:@-] (it is the "
          "caller id)");
    }
    Principal principal;
    principal.id = sub->get<std::string>();
    principal.kind = AuthKind::kJwt;
    if (auto roles = claims.find("roles"); roles != claims.end()) {
      if (!roles->is_array()) {
        return Invalid("\"roles\" must be an array of role names");
      }
      for (const json_t& role : *roles) {
        if (!role.is_string()) {
          return Invalid("\"roles\" must be an array of role names");
        }
        if (std::optional<Role> known = ParseRole(role.get<std::string>())) {
          principal.roles.Add(*known);
        }
      }
    }
    return principal;
  } catch (const std::exception&) {
    return Invalid("malformed");
  }
}

}  // namespace makegood::auth
