// File: services/auth/jwt_verifier.h
//
// JwtVerifier: checks an `authorization: Bearer <jwt>` token and turns it
// into a Principal. Signatures are checked by libcpp-jwt; the algorithm comes
// from the server's configuration, never from the token: a token whose
// header names another algorithm — "none", or HS256 when the server holds an
// RS256 public key (the "algorithm confusion" attack, where the public key is
// used as an HMAC secret) — is refused before any signature check.
//
// A token is accepted only if all of these hold:
//   - header "alg" is the configured algorithm and the signature verifies
//     with the configured key (HS256 shared secret, RS256 or ES256 public
//     key); no "crit" header;
//   - "exp" is present and now <= exp + leeway (a token without exp is
//     refused: every token must expire); "nbf", if present, <= now + leeway;
//   - "iss" equals the configured issuer;
//   - "aud" equals, or (as an array) contains, the configured audience;
//   - "sub" is a valid id (1-128 characters of [A-Za-z0-9._:@-]): it becomes
//     the principal id.
// Roles come from a "roles" claim, an array of role names; names this
// service does not know are ignored (the token may serve other services), so
// a token without known roles authenticates but may call nothing.
//
// Time is checked against the `now` the caller passes (from its Clock), not
// the library's idea of the time.
//
// Failures are UNAUTHENTICATED with ErrorInfo reason "TOKEN_EXPIRED" or
// "TOKEN_INVALID"; the message says which check failed and never contains the
// token or the key.
//
// Example:
//   MAKEGOOD_ASSIGN_OR_RETURN(
//       JwtVerifier verifier,
//       JwtVerifier::Create({.algorithm = JwtAlgorithm::kRs256,
//                            .key = public_key_pem,
//                            .issuer = "https://login.example.com/",
//                            .audience = "makegood",
//                            .leeway = absl::Seconds(30)}));
//   absl::StatusOr<Principal> who = verifier.Verify(token, clock.Now());
//
// Thread-safety: immutable after Create; Verify is thread-safe.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/auth/principal.h"

namespace makegood::auth {

enum class JwtAlgorithm {
  kHs256,  // HMAC-SHA256 with a shared secret
  kRs256,  // RSASSA-PKCS1-v1_5 SHA-256, RSA public key
  kEs256,  // ECDSA P-256 SHA-256, EC public key
};

// "HS256", "RS256" or "ES256".
absl::string_view JwtAlgorithmName(JwtAlgorithm algorithm);

// Parses "HS256", "RS256" or "ES256" (exactly); nullopt otherwise.
std::optional<JwtAlgorithm> ParseJwtAlgorithm(absl::string_view name);

// The longest token accepted.
inline constexpr size_t kMaxJwtBytes = 8192;

// Longest leeway accepted for exp/nbf (clock skew between issuer and us).
inline constexpr absl::Duration kMaxJwtLeeway = absl::Minutes(5);

struct JwtVerifierOptions {
  JwtAlgorithm algorithm = JwtAlgorithm::kRs256;
  // HS256: the shared secret (at least 32 bytes; one trailing newline, as
  // `echo` writes, is dropped). RS256/ES256: a "PUBLIC KEY" PEM.
  std::string key;
  std::string issuer;
  std::string audience;
  absl::Duration leeway = absl::Seconds(30);
};

class JwtVerifier {
 public:
  // INVALID_ARGUMENT naming the field (jwt_issuer, jwt_audience, jwt_key,
  // jwt_leeway) if an option is missing or the key does not fit the
  // algorithm (short secret, private instead of public key, RSA key for
  // ES256, ...).
  static absl::StatusOr<JwtVerifier> Create(JwtVerifierOptions options);

  // The principal `token` (the part after "Bearer ") names, or
  // UNAUTHENTICATED (see the file comment).
  absl::StatusOr<Principal> Verify(absl::string_view token,
                                   absl::Time now) const;

  JwtAlgorithm algorithm() const { return options_.algorithm; }

 private:
  explicit JwtVerifier(JwtVerifierOptions options)
      : options_(std::move(options)) {}

  JwtVerifierOptions options_;
};

}  // namespace makegood::auth
