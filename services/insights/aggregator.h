// File: services/insights/aggregator.h
//
// The insights aggregator: folds every committed decision into the
// aggregates InsightsService reads (stats_store.h).
//
// It reads every partition's decisions stream (mg:{p<N>}:decisions) through
// one consumer group ("insights"), under a stable consumer name per process,
// with a streams::StreamConsumer (groups, pending reads, reclaiming), and
// hands each entry to fold_decision.lua, which adds it to the store's,
// the courier's and the SKUs' buckets in the same partition and XACKs it in
// one atomic step. An entry is therefore counted exactly when it is
// acknowledged, whatever happens around it:
//   - a fold whose reply is lost leaves the entry acknowledged; a retry finds
//     it so and changes nothing (FoldResult::kDuplicate);
//   - a fold that failed leaves the entry pending; it is retried after
//     `retry_after` (XAUTOCLAIM by this consumer);
//   - after a restart under the same name, this consumer's pending entries
//     are read again at once; a dead consumer's are taken over with
//     XAUTOCLAIM once idle for `retry_after`, by whichever aggregator runs.
// Malformed entries (and entries trimmed from the stream before they were
// read) are acknowledged without being counted and logged
// (insights_bad_event). Events too old for any kept bucket are acknowledged
// and counted as stale. The group starts at the beginning of each stream, so
// a first start folds the history still in the streams (capped at about a
// million entries each by the rating path).
//
// Blocking reads (XREADGROUP BLOCK, XAUTOCLAIM) use a Redis connection of
// the aggregator's own; folds go through the shared client, at most
// `max_in_flight` at once. Entries are never dead-lettered: a fold that keeps
// failing is retried every `retry_after` for as long as it fails.
//
// Example:
//   Aggregator aggregator(redis, keys, clock, options);
//   MAKEGOOD_RETURN_IF_ERROR(aggregator.Start(redis_options));
//   ...
//   aggregator.Stop();
//
// Thread-safety: Start/Stop from one thread; stats() from any. Nothing is
// owned; the client, key schema and clock must outlive the aggregator.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/core/clock.h"
#include "services/insights/stats_store.h"
#include "services/redis/redis_client.h"
#include "services/redis/redis_options.h"
#include "services/store/key_schema.h"
#include "services/streams/stream_consumer.h"

namespace makegood::insights {

struct AggregatorOptions {
  // Stable per process across restarts (e.g. the pod name), so a restarted
  // aggregator resumes its own pending entries at once.
  std::string consumer = "insights";
  std::string group = "insights";
  // The replicas share the partitions (streams/membership.h): each reads
  // the streams it owns, and a replica's share moves to the others when it
  // stops (at once) or dies (after member_ttl). false: every replica reads
  // every partition.
  bool share_partitions = true;
  absl::Duration member_ttl = absl::Seconds(6);
  // How long XREADGROUP blocks waiting for new entries.
  absl::Duration block = absl::Milliseconds(500);
  // Pending entries idle this long (a failed fold, a dead consumer's) are
  // taken over and folded again.
  absl::Duration retry_after = absl::Seconds(30);
  // Entries read per stream and call.
  int read_count = 100;
  // Folds in flight at once.
  int max_in_flight = 256;
  // Monotonic time and sleep of the read loop (streams::ConsumerOptions);
  // the real ones if unset. Tests replace them.
  std::function<absl::Duration()> monotonic_now;
  std::function<void(absl::Duration)> sleep;
};

struct AggregatorStats {
  uint64_t folded = 0;      // Events counted.
  uint64_t stale = 0;       // Acknowledged, too old to count.
  uint64_t skipped = 0;     // Malformed or trimmed: acknowledged, not counted.
  uint64_t duplicates = 0;  // Delivered again after being counted.
  uint64_t failed = 0;      // Folds that failed; the entry stays pending.
  uint64_t reclaimed = 0;   // Entries taken over with XAUTOCLAIM.
};

class Aggregator {
 public:
  Aggregator(redis::RedisClient& redis, const store::KeySchema& keys,
             const Clock& clock, AggregatorOptions options);
  ~Aggregator();

  Aggregator(const Aggregator&) = delete;
  Aggregator& operator=(const Aggregator&) = delete;

  // Opens a connection of its own for blocking reads (to `redis_options`)
  // and starts the loop, which creates the consumer group on every
  // partition's stream if missing. INVALID_ARGUMENT naming the option if one
  // is bad; FAILED_PRECONDITION if already started (an aggregator starts at
  // most once; after Stop, make a new one).
  absl::Status Start(redis::RedisOptions redis_options);
  // The same with the blocking client made by `blocking_client` (tests pass
  // a FakeRedis).
  absl::Status Start(streams::StreamConsumer::ClientFactory blocking_client);
  // Start without the thread: Poll then runs one pass of the read loop on
  // the caller's thread. For tests. Same errors as Start.
  absl::Status Open(streams::StreamConsumer::ClientFactory blocking_client);
  void Poll();

  // Stops reading and waits for the folds in flight (at most about `block`
  // plus the Redis command timeout). Unfolded entries stay pending and are
  // resumed by the next start. Idempotent.
  void Stop();

  AggregatorStats stats() const;

 private:
  // The consumer's handler: folds one entry, then calls `done`.
  void FoldOne(streams::StreamEntry entry, streams::StreamConsumer::Done done);

  const store::KeySchema& keys_;
  const Clock& clock_;
  const AggregatorOptions options_;
  StatsStore store_;  // Folds go through the shared client.
  redis::RedisClient& redis_;
  std::unique_ptr<streams::StreamConsumer> consumer_;
  // Set by Start(redis_options): on Redis Cluster, what wakes the reads.
  decltype(streams::ConsumerOptions::notifications) notifications_;

  mutable absl::Mutex mu_;
  AggregatorStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace makegood::insights
