// File: services/api/caller.h
//
// Who is calling. Until authentication lands (mTLS / JWT / API keys, the
// production-readiness issue), the caller names itself in the `x-client-id`
// request metadata, which is trusted as is; without it the caller is
// "anonymous". The caller scopes idempotency keys and per-client rate limits.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"

namespace makegood::api {

inline constexpr char kClientIdMetadata[] = "x-client-id";
inline constexpr char kAnonymousCaller[] = "anonymous";

// The caller's id; INVALID_ARGUMENT if `x-client-id` is present but not an id.
absl::StatusOr<std::string> CallerId(
    const grpc::CallbackServerContext& context);

}  // namespace makegood::api
