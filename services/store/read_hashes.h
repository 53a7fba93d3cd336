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
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/redis/redis_client.h"
#include "services/store/read_hashes_script.h"
#include "services/store/script_call.h"

namespace makegood::store {

// Reads `fields` of each of `keys` (keys of one partition; none is fine).
void ReadHashes(
    redis::RedisClient& redis, std::vector<std::string> keys,
    std::vector<std::string> fields,
    absl::AnyInvocable<void(absl::StatusOr<std::vector<HashRow>>)> done);

// An index read's entries and the records they name.
struct IndexedRecords {
  std::vector<IndexEntry> index;  // As the index read answered them.
  std::vector<HashRow> rows;      // One per entry, in index order.
};

// Given `index`, the entries an index read answered, reads `fields` of the
// record `key_of(id)` of every entry.
void ReadIndexed(redis::RedisClient& redis, std::vector<IndexEntry> index,
                 const std::function<std::string(absl::string_view id)>& key_of,
                 std::vector<std::string> fields,
                 absl::AnyInvocable<void(absl::StatusOr<IndexedRecords>)> done);

}  // namespace makegood::store
