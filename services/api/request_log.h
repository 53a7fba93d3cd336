// File: services/api/request_log.h
//
// One structured log line per RPC (event "rpc"): request id, method, caller,
// the member the call is about (pseudonymised), gRPC status code and latency.
// Fields come from an allowlist — nothing else of a request is ever logged
// (no comments, no amounts, no order contents, no raw member ids).
//
// The member id is replaced by "p_" + 16 hex digits of HMAC-SHA256(key, id):
// stable for a key (so one member's calls can be followed), meaningless
// without it. With an empty key a random per-process key is used.
//
// The request id is the caller's `x-request-id` metadata (if 1-64 printable
// characters) or a new random one; it is returned as `x-request-id` trailing
// metadata so callers can quote it.
//
// Thread-safety: the factory is thread-safe; interceptors are per call.
#pragma once

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "grpcpp/support/server_interceptor.h"
#include "services/auth/authenticator.h"

namespace makegood::api {

class RequestLogFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `auth` (not owned; may be null) names the caller the way handlers do;
  // null logs the self-declared `x-client-id`.
  RequestLogFactory(std::string pseudonym_key,
                    const auth::Authenticator* auth = nullptr);

  const auth::Authenticator* auth() const { return auth_; }

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

  // "p_" + 16 hex digits of HMAC-SHA256(key, member_id).
  std::string Pseudonym(absl::string_view member_id) const;

 private:
  std::string key_;
  const auth::Authenticator* auth_;
};

// The member id a request is about: its `member_id` field, or that of its
// `member` or `order` message; "" if none.
std::string MemberIdOf(const google::protobuf::Message& request);

}  // namespace makegood::api
