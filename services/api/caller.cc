#include "services/api/caller.h"

#include "services/core/text.h"
#include "services/errors/errors.h"

namespace makegood::api {

absl::StatusOr<std::string> CallerId(
    const grpc::CallbackServerContext& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(kClientIdMetadata);
  if (it == metadata.end()) return std::string(kAnonymousCaller);
  std::string id(it->second.data(), it->second.size());
  if (!IsValidId(id)) {
    Violations violations;
    violations.Add("metadata x-client-id",
                   "must be 1-128 characters of [A-Za-z0-9._:@-]");
    return violations.ToStatus();
  }
  return id;
}

}  // namespace makegood::api
