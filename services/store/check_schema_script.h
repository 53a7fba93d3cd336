// File: services/store/check_schema_script.h
//
// The typed call of lua/check_schema.lua: records this deployment's
// partition count and schema version on first use and answers what is
// recorded (BuildCheckSchemaCall, ParseCheckSchemaReply). The health monitor
// refuses to serve when the two differ from its own (CheckRecordedSchema).
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/redis/redis_reply.h"
#include "services/store/key_schema.h"
#include "services/store/script_call.h"

namespace makegood::store {

struct CheckSchemaRequest {
  int partitions = 0;  // This server's.
  int schema_version = kSchemaVersion;
};

// KEYS: KeySchema::MetaKey(). ARGV: partitions, schema version.
ScriptCall BuildCheckSchemaCall(const CheckSchemaRequest& request);

struct CheckSchemaReply {
  // As recorded by the first server that used this Redis.
  int64_t partitions = 0;
  int64_t schema_version = 0;
};

// INTERNAL naming check_schema unless `reply` is two integers (as text).
absl::StatusOr<CheckSchemaReply> ParseCheckSchemaReply(
    const redis::RedisReply& reply);

// OK if `recorded` is `partitions` and kSchemaVersion; else
// FAILED_PRECONDITION saying what differs and what an operator must do (for
// schema version 1: the old partition tags, see docs/ARCHITECTURE.md).
absl::Status CheckRecordedSchema(const CheckSchemaReply& recorded,
                                 int partitions);

}  // namespace makegood::store
