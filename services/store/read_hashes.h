// File: services/store/read_hashes.h
//
// The second half of every listing: once an index (a sorted set) has named
// the records of one partition, read the same fields of all of them in one
// atomic call (lua/read_hashes.lua), passing every key in KEYS as Redis
// Cluster needs. Listings used to build the record keys inside one script
// from a key prefix; on a cluster that only works while the slot stays put.
//
// Thread-safety: stateless; `done` runs on the Redis client's thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "services/redis/redis_client.h"

namespace makegood::store {

// One record's fields, in the order asked for (a missing field as ""), or
// nullopt when the record is gone (its first field is missing).
using HashRow = std::optional<std::vector<std::string>>;

// Reads `fields` of each of `keys` (keys of one partition; none is fine).
void ReadHashes(
    redis::RedisClient& redis, std::vector<std::string> keys,
    std::vector<std::string> fields,
    absl::AnyInvocable<void(absl::StatusOr<std::vector<HashRow>>)> done);

}  // namespace makegood::store
