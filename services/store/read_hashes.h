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

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
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

// An index read's elements and the records its ids name.
struct IndexedRecords {
  std::vector<redis::RedisReply> index;  // The index reply's elements.
  std::vector<HashRow> rows;  // One per (id, score) pair, in index order.
};

// Given `index`, the answer of an index read (`what` names it in errors)
// whose elements from `first` on are (id, score) pairs, reads `fields` of
// the record `key_of(id)` of every pair.
void ReadIndexed(redis::RedisClient& redis,
                 absl::StatusOr<redis::RedisReply> index,
                 absl::string_view what, size_t first,
                 const std::function<std::string(absl::string_view id)>& key_of,
                 std::vector<std::string> fields,
                 absl::AnyInvocable<void(absl::StatusOr<IndexedRecords>)> done);

}  // namespace makegood::store
