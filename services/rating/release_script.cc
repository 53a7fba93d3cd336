#include "services/rating/release_script.h"

namespace makegood::rating {

ScriptCall BuildReleaseCall(const store::KeySchema& keys,
                            const ReleaseRequest& request) {
  ScriptCall call;
  call.keys = {
      keys.IdempotencyKey(request.ids.partition, request.ids.scope_hash)};
  call.args = {request.token};
  return call;
}

absl::StatusOr<ReleaseReply> ParseReleaseReply(const redis::RedisReply& reply) {
  if (reply.type != redis::RedisReply::Type::kInteger ||
      (reply.integer != 0 && reply.integer != 1)) {
    return MalformedReply("release_rating", "not the integer 0 or 1");
  }
  return ReleaseReply{.released = reply.integer == 1};
}

}  // namespace makegood::rating
