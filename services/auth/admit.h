// File: services/auth/admit.h
//
// The first step of every makegood.v1 handler: who is calling, and may they
// call this method? Authentication and the method -> role table live in
// Authenticator; Admit adapts its answer to a unary reactor. The principal's
// id is what idempotency scopes and per-client rate limits use.
//
// Example:
//   grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
//   std::optional<auth::Principal> who = auth::Admit(
//       auth_, *context, reactor, "/makegood.v1.RatingService/SubmitRating");
//   if (!who.has_value()) return reactor;  // Already finished.
//
// Thread-safety: thread-safe.
#pragma once

#include <optional>

#include "absl/strings/string_view.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "services/auth/authenticator.h"
#include "services/auth/principal.h"

namespace makegood::auth {

// The caller if `auth` lets them call `full_method`; otherwise finishes
// `reactor` with UNAUTHENTICATED / PERMISSION_DENIED (and its reason) and
// returns nullopt.
std::optional<Principal> Admit(const Authenticator& auth,
                               const grpc::CallbackServerContext& context,
                               grpc::ServerUnaryReactor* reactor,
                               absl::string_view full_method);

}  // namespace makegood::auth
