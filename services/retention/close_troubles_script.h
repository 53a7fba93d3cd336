// File: services/retention/close_troubles_script.h
//
// The typed call of lua/close_troubles.lua, which closes the due retention
// windows of a batch of one partition's troubles: the schedule's members
// (as ZRANGEBYSCORE read them) become its KEYS and ARGV
// (BuildCloseTroublesCall), its answer one CloseTroublesReply.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/redis/redis_reply.h"
#include "services/store/key_schema.h"
#include "services/store/script_call.h"

namespace makegood::retention {

struct CloseTroublesRequest {
  int partition = 0;
  // Members of KeySchema::TroublesDueKey(partition) (DueMember); one that
  // does not parse is left out.
  std::vector<std::string> due;
  absl::Time now;
  absl::Duration day = absl::Hours(24);  // A retention day.
};

// KEYS and ARGV as documented in lua/close_troubles.lua.
store::ScriptCall BuildCloseTroublesCall(const store::KeySchema& keys,
                                         const CloseTroublesRequest& request);

struct CloseTroublesReply {
  int64_t closed = 0;   // Windows closed.
  int64_t skipped = 0;  // Troubles with no window due (or gone).
};

// INTERNAL naming close_troubles when `reply` is not its answer.
absl::StatusOr<CloseTroublesReply> ParseCloseTroublesReply(
    const redis::RedisReply& reply);

}  // namespace makegood::retention
