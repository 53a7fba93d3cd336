// File: services/store/read_member_script.h
//
// The typed call of lua/read_member.lua: a member's profile and stats hash,
// read at one instant (BuildReadMemberCall, ParseReadMemberReply).
//
// Pure functions; thread-safe.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "services/redis/redis_reply.h"
#include "services/store/key_schema.h"
#include "services/store/script_call.h"

namespace makegood::store {

struct ReadMemberRequest {
  std::string member_id;
};

// KEYS: the member hash, the member stats hash. No ARGV.
ScriptCall BuildReadMemberCall(const KeySchema& keys,
                               const ReadMemberRequest& request);

struct ReadMemberReply {
  bool recorded = false;  // False: the member was never upserted.
  // recorded: the member hash's "pb" field (a makegood.v1.Member), text.
  redis::RedisReply member_pb;
  // recorded: the stats hash as a flat HGETALL array (empty: never rated).
  redis::RedisReply stats;
};

// INTERNAL naming read_member unless `reply` is {pb or nil, array}.
absl::StatusOr<ReadMemberReply> ParseReadMemberReply(redis::RedisReply reply);

}  // namespace makegood::store
