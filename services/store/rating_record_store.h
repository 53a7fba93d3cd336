// File: services/store/rating_record_store.h
//
// Reads the rating records committed in a time window across every
// partition (mg:{p<N>}:ratings:t, then mg:{p<N>}:rating:<id> field "pb"; see
// key_schema.h), for SimulatePolicy over recorded decisions. One script per
// partition, all sent at once so the client pipelines them: one round trip
// however many partitions there are. Reads only.
//
// Thread-safety: thread-safe; the callback runs on the Redis I/O thread,
// once, after every partition has answered.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/redis/redis_client.h"
#include "services/store/key_schema.h"

namespace makegood::store {

struct CommittedRating {
  std::string rating_id;
  // When it was committed (the index score), Unix milliseconds.
  int64_t committed_ms = 0;
  // A makegood.storage.v1.RatingRecord, left serialized: parsing thousands
  // of records is the caller's work, off the Redis I/O thread.
  std::string record_pb;
};

struct CommittedRatings {
  // Oldest first (ties by rating id), at most max_records.
  std::vector<CommittedRating> ratings;
  // The window held more than max_records ratings; the newest were left out.
  bool truncated = false;
};

class RatingRecordStore {
 public:
  // Does not take ownership; both must outlive the store.
  RatingRecordStore(redis::RedisClient& redis, const KeySchema& keys)
      : redis_(redis), keys_(keys) {}

  // The ratings committed in [start, end), the oldest `max_records` of them
  // (max_records >= 1). Each partition returns at most max_records + 1, so
  // memory is bounded by partitions * (max_records + 1) records while
  // merging. UNAVAILABLE if any partition cannot be read (nothing partial is
  // returned); INTERNAL on a reply of the wrong shape.
  void ListCommitted(
      absl::Time start, absl::Time end, int max_records,
      absl::AnyInvocable<void(absl::StatusOr<CommittedRatings>)> done);

 private:
  redis::RedisClient& redis_;
  const KeySchema& keys_;
};

}  // namespace makegood::store
