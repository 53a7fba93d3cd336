// File: services/rating/release_script.h
//
// Gives up a claim that will not be committed (lua/release_rating.lua), as a
// typed call: BuildReleaseCall and ParseReleaseReply.
//
// Pure functions; thread-safe.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "services/rating/rating_ids.h"
#include "services/rating/script_call.h"
#include "services/redis/redis_reply.h"
#include "services/store/key_schema.h"

namespace makegood::rating {

struct ReleaseRequest {
  RatingIds ids;      // Names the idempotency record.
  std::string token;  // Only a claim holding this token is released.
};

ScriptCall BuildReleaseCall(const store::KeySchema& keys,
                            const ReleaseRequest& request);

struct ReleaseReply {
  // False when the claim was not ours any more (lapsed, or committed).
  bool released = false;
};

// INTERNAL naming release_rating unless `reply` is the integer 0 or 1.
absl::StatusOr<ReleaseReply> ParseReleaseReply(const redis::RedisReply& reply);

}  // namespace makegood::rating
