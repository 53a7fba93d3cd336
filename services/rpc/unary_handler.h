// File: services/rpc/unary_handler.h
//
// The one shape of every unary makegood.v1 handler:
//
//   1. admit     who is calling, and may they call this method?
//                (UNAUTHENTICATED / PERMISSION_DENIED, services/auth/admit.h)
//   2. validate  every bad field of the request, each named, all at once
//                (INVALID_ARGUMENT with BadRequest details); nothing runs
//                for a request with any
//   3. work      the call's (usually asynchronous) work, which fills the
//                response and then calls `finish(status)` exactly once
//   4. finish    the absl::Status becomes a grpc::Status in one place
//                (services/errors/grpc_status.h: ToGrpcStatus)
//
// A handler states only what is its own: its method name, its validation and
// its work. Calls are counted and timed by the RPC interceptor
// (services/metrics/rpc_metrics.h), not here.
//
// Example:
//   grpc::ServerUnaryReactor* OrderService::GetOrder(
//       grpc::CallbackServerContext* context, const GetOrderRequest* request,
//       GetOrderResponse* response) {
//     return rpc::ServeUnary(
//         auth_, context, "/makegood.v1.OrderService/GetOrder",
//         [&](Violations& v) { ValidateId("order_id", request->order_id(), v);
//         },
//         [&](const auth::Principal&, rpc::Finish finish) {
//           orders_.GetOrder(request->order_id(),
//                            [finish, response](absl::StatusOr<Order> got) {
//                              if (got.ok()) *response->mutable_order() = *got;
//                              finish(got.status());
//                            });
//         });
//   }
//
// Thread-safety: `validate` and `work` run on the gRPC thread that called the
// handler, before ServeUnary returns; `finish` may be called from any thread.
#pragma once

#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "services/auth/admit.h"
#include "services/auth/authenticator.h"
#include "services/auth/principal.h"
#include "services/errors/errors.h"
#include "services/errors/grpc_status.h"

namespace makegood::rpc {

// Ends one unary call with an absl::Status. Cheap to copy into callbacks;
// call it once.
class Finish {
 public:
  explicit Finish(grpc::ServerUnaryReactor* reactor) : reactor_(reactor) {}

  void operator()(const absl::Status& status) const {
    reactor_->Finish(ToGrpcStatus(status));
  }

 private:
  grpc::ServerUnaryReactor* reactor_;
};

// For methods whose requests have no fields to validate.
inline void NothingToValidate(Violations&) {}

// Runs steps 1-4 above. `validate` is callable as validate(Violations&);
// `work` as work(const auth::Principal&, Finish).
template <typename Validate, typename Work>
grpc::ServerUnaryReactor* ServeUnary(const auth::Authenticator& auth,
                                     grpc::CallbackServerContext* context,
                                     absl::string_view method,
                                     Validate&& validate, Work&& work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<auth::Principal> who =
      auth::Admit(auth, *context, reactor, method);
  if (!who.has_value()) return reactor;  // Admit finished it.
  Violations violations;
  std::forward<Validate>(validate)(violations);
  Finish finish(reactor);
  if (!violations.empty()) {
    finish(violations.ToStatus());
    return reactor;
  }
  std::forward<Work>(work)(*who, finish);
  return reactor;
}

}  // namespace makegood::rpc
