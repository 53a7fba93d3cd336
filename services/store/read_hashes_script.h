// File: services/store/read_hashes_script.h
//
// The typed call of lua/read_hashes.lua, the second half of every listing:
// the same fields of several hashes of one partition, read in one atomic
// step (BuildReadHashesCall, ParseReadHashesReply). ReadHashes and
// ReadIndexed (read_hashes.h) make the call.
//
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/redis/redis_reply.h"
#include "services/store/script_call.h"

namespace makegood::store {

struct ReadHashesRequest {
  // Records of one partition, each from a KeySchema method (ReadIndexed's
  // key_of); all passed in KEYS, as Redis Cluster needs.
  std::vector<std::string> keys;
  std::vector<std::string> fields;
};

// KEYS: the hashes. ARGV: the fields.
ScriptCall BuildReadHashesCall(ReadHashesRequest request);

// One record's fields, in the order asked for (a missing field as ""), or
// nullopt when the record is gone (its first field is missing).
using HashRow = std::optional<std::vector<std::string>>;

// One HashRow per key, in KEYS order. INTERNAL naming read_hashes unless
// `reply` is `keys` arrays of `fields` elements each, each text or nil.
absl::StatusOr<std::vector<HashRow>> ParseReadHashesReply(
    const redis::RedisReply& reply, size_t keys, size_t fields);

}  // namespace makegood::store
