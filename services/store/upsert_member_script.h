// File: services/store/upsert_member_script.h
//
// The typed call of lua/upsert_member.lua, which creates or replaces a
// member profile atomically: UpsertMemberRequest becomes its KEYS and ARGV
// (BuildUpsertMemberCall), its answer a WriteResult (ParseUpsertMemberReply).
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "makegood/v1/order.pb.h"
#include "services/redis/redis_reply.h"
#include "services/store/key_schema.h"
#include "services/store/script_call.h"

namespace makegood::store {

struct UpsertMemberRequest {
  std::string member_id;
  std::string member_pb;  // makegood.v1.Member, deterministic bytes.
  std::string tier;
  int64_t member_since_ms = 0;
  std::vector<std::string> flags;
  absl::Time now;  // Business clock.
};

// KEYS: the member hash. ARGV as documented in lua/upsert_member.lua.
ScriptCall BuildUpsertMemberCall(const KeySchema& keys,
                                 const UpsertMemberRequest& request);

// CREATED, UPDATED or UNCHANGED; INTERNAL naming upsert_member for any other
// reply.
absl::StatusOr<makegood::v1::WriteResult> ParseUpsertMemberReply(
    const redis::RedisReply& reply);

}  // namespace makegood::store
