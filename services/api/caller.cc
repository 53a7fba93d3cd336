#include "services/api/caller.h"

#include "services/errors/errors.h"

namespace makegood::api {

std::optional<auth::Principal> Admit(const auth::Authenticator& auth,
                                     const grpc::CallbackServerContext& context,
                                     grpc::ServerUnaryReactor* reactor,
                                     absl::string_view full_method) {
  absl::StatusOr<auth::Principal> who = auth.Authorize(context, full_method);
  if (!who.ok()) {
    reactor->Finish(ToGrpcStatus(who.status()));
    return std::nullopt;
  }
  return *std::move(who);
}

}  // namespace makegood::api
