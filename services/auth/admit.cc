#include "services/auth/admit.h"

#include <utility>

#include "services/errors/errors.h"
#include "services/errors/grpc_status.h"

namespace makegood::auth {

std::optional<Principal> Admit(const Authenticator& auth,
                               const grpc::CallbackServerContext& context,
                               grpc::ServerUnaryReactor* reactor,
                               absl::string_view full_method) {
  absl::StatusOr<Principal> who = auth.Authorize(context, full_method);
  if (!who.ok()) {
    reactor->Finish(ToGrpcStatus(who.status()));
    return std::nullopt;
  }
  return *std::move(who);
}

}  // namespace makegood::auth
