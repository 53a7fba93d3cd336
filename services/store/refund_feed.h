// File: services/store/refund_feed.h
//
// Tells WatchRefund when a refund changes. Every refund transition appends a
// notice to its partition's feed stream (mg:{p<N>}:refund_feed, see
// lua/lib/refund_events.lua); one thread per server follows all feeds with a
// blocking XREAD on a connection of its own and calls the subscribers of the
// refund named in each notice, typically within a millisecond of the commit.
// On Redis Cluster the feeds are read slot by slot without blocking
// (streams/stream_read.h), and only those that keyspace notifications
// (redis/keyspace_notifications.h) say got a notice; all of them every 5 s
// anyway, and every 200 ms while notifications are off.
//
// Notices say only "look again": subscribers read the refund's own events
// stream for what changed, so a missed notice (Redis restarted, a slow
// subscriber) loses nothing. For the same reason every subscriber is also
// called every `heartbeat`.
//
// Example:
//   auto feed = RefundFeed::Start(redis_options, keys);
//   uint64_t id = (*feed)->Subscribe("rf_3_...", [] { /* look again */ });
//   ...
//   (*feed)->Unsubscribe("rf_3_...", id);
//
// Not a streams::StreamConsumer: every server must see every notice, so the
// feed reads with plain XREAD from "now" (a consumer group would share the
// notices out among the servers), and a notice needs no ack, retry or dead
// letter. It shares the consumer's reading of stream replies
// (streams::EntriesOfRead).
//
// Thread-safety: thread-safe. Callbacks run on the feed thread, must not
// block, and are never called after Unsubscribe returns.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/redis/keyspace_notifications.h"
#include "services/redis/redis_client.h"
#include "services/redis/redis_options.h"
#include "services/store/key_schema.h"

namespace makegood::store {

class RefundFeed {
 public:
  static absl::StatusOr<std::unique_ptr<RefundFeed>> Start(
      redis::RedisOptions options, const KeySchema& keys,
      absl::Duration heartbeat = absl::Seconds(2));
  ~RefundFeed();
  RefundFeed(const RefundFeed&) = delete;
  RefundFeed& operator=(const RefundFeed&) = delete;

  uint64_t Subscribe(const std::string& refund_id,
                     std::function<void()> on_change);
  void Unsubscribe(const std::string& refund_id, uint64_t subscription);

  // Notices delivered (for tests and metrics).
  uint64_t notices() const { return notices_.load(); }

 private:
  RefundFeed(const KeySchema& keys, absl::Duration heartbeat);
  void Run();
  void NotifyAll();

  const KeySchema& keys_;
  const absl::Duration heartbeat_;
  std::vector<std::string> feed_keys_;
  std::unique_ptr<redis::RedisClient> redis_;
  std::unique_ptr<redis::KeyspaceNotifications> notes_;  // Cluster only.
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> notices_{0};

  // Held while callbacks run, so Unsubscribe waits for a running callback.
  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<std::string,
                      std::vector<std::pair<uint64_t, std::function<void()>>>>
      subscribers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace makegood::store
