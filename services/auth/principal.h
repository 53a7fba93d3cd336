// File: services/auth/principal.h
//
// Principal: who an authenticated call comes from. Its id is the caller
// identity the rest of the service uses — it scopes idempotency keys and
// per-client rate limits — so it must be stable for one client and distinct
// between clients. It is always a valid id (services/core/text.h: 1-128
// characters of [A-Za-z0-9._:@-]), so it can go into Redis keys as is.
//
// Example:
//   absl::StatusOr<Principal> who = authenticator.Authorize(*context, kMethod);
//   if (!who.ok()) return Finish(ToGrpcStatus(who.status()));
//   idempotency_scope = who->id;
//
// Thread-safety: plain value.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "services/auth/role.h"

namespace makegood::auth {

// How the principal proved who it is.
enum class AuthKind {
  kJwt,       // a verified `authorization: Bearer <jwt>`
  kApiKey,    // an `x-api-key` listed in the API keys file
  kMtls,      // a verified client certificate listed in the clients file
  kInsecure,  // nothing: the insecure development mode
};

// "jwt", "api_key", "mtls" or "insecure" (for logs and metrics labels).
absl::string_view AuthKindName(AuthKind kind);

struct Principal {
  // The caller identity (JWT "sub", the keys file's principal id, the
  // certificate name, or `x-client-id` / "anonymous" in insecure mode).
  std::string id;
  RoleSet roles;
  AuthKind kind = AuthKind::kInsecure;
};

}  // namespace makegood::auth
