// File: services/streams/stream_consumer.h
//
// One consumer of a set of Redis streams through a consumer group: the loop
// the settlement worker (outbox) and the insights aggregator (decisions)
// share. Per pass (Poll) it
//   1. waits while Redis is down (no ready connection);
//   2. creates the group on every stream if missing (XGROUP CREATE ... 0
//      MKSTREAM; BUSYGROUP is success), retried after `group_retry` on
//      failure and again whenever a read answers NOGROUP (Redis restarted
//      empty);
//   3. once per start, re-reads this consumer's own pending entries (after a
//      restart under the same name they are resumed at once, not after
//      `retry_after`); a failed read is resumed on the next pass, and the
//      pass goes on meanwhile;
//   4. every `retry_after / 2`, takes over entries pending longer than
//      `retry_after` (a failed attempt, a dead consumer's) with XAUTOCLAIM;
//      with `max_deliveries` set, asks XPENDING how often each was delivered
//      and hands those delivered more often to the dead-letter hook;
//   5. reads new entries (XREADGROUP ... BLOCK `block` ... >). On Redis
//      Cluster, where one command names keys of one slot only, this is one
//      read per slot, all at once and none blocking (stream_read.h), and
//      only of the streams that may have entries: keyspace notifications
//      (`notifications`) say which got one, and the consumer waits for
//      them between reads (reading everything every 5 s anyway, and every
//      `block` while notifications are off or down). Without them it
//      polls: after an empty read it waits 10 ms, doubling up to `block`.
// With `members_key` set, the consumers of the group share its streams
// (membership.h): each pass first beats (every member_ttl / 3), and steps 4
// and 5 cover only the streams this consumer owns; its own pending entries
// (step 3) are resumed on every stream. A clean Stop leaves the group, so
// the others take its share at once; a dead consumer's share moves after
// member_ttl, and its pending entries are then reclaimed by their new owners.
// Every entry goes to the handler, at most `max_in_flight` at once and never
// twice at once (an entry reclaimed while still in flight here is skipped).
// The handler acknowledges the entry (Ack, or atomically in its own script)
// or leaves it pending for a retry, and calls `done` exactly once either way.
//
// Dead letters: by default the entry is copied to its stream's dead-letter
// stream (with `entry_id`, `deliveries` and `dead_at_ms` fields) and then
// acknowledged and deleted. This is at least once: a reply lost between the
// copy and the XACK copies it again on the next reclaim. A consumer that must
// do more in the same atomic step (settlement marks the refund
// NEEDS_ATTENTION) sets `on_dead_letter` and does it all itself.
//
// Reads use a blocking client of the consumer's own, made by the injected
// factory on Open (BlockingReadClient in production, a FakeRedis in tests);
// acks and dead letters go through the shared client. Business time
// (dead_at_ms) comes from the injected Clock; polling and backoff use a
// monotonic time source (`ConsumerOptions::monotonic_now`, `sleep`) that tests
// replace.
//
// Example:
//   StreamConsumer consumer(redis, clock, options, factory,
//       [&](StreamEntry entry, StreamConsumer::Done done) {
//         Handle(entry, std::move(done));
//       });
//   MAKEGOOD_RETURN_IF_ERROR(consumer.Start());
//   ...
//   consumer.Stop(absl::Seconds(5));
//
// Thread-safety: Open/Start/Stop/Poll from one thread; Ack, stats and the
// handler's `done` from any. Nothing is owned but the blocking client; the
// shared client and clock must outlive the consumer.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/core/clock.h"
#include "services/redis/keyspace_notifications.h"
#include "services/redis/redis_client.h"
#include "services/redis/redis_options.h"
#include "services/streams/membership.h"
#include "services/streams/stream_entry.h"

namespace makegood::streams {

struct ConsumerStats {
  uint64_t delivered = 0;      // Entries handed to the handler.
  uint64_t reclaimed = 0;      // Entries taken over with XAUTOCLAIM.
  uint64_t dead_lettered = 0;  // Entries handed to the dead-letter path.
};

struct ConsumerOptions {
  // Names log events (<name>_group_create_failed, ...).
  std::string name = "stream";
  std::string group;
  // Stable per process across restarts (e.g. the pod name).
  std::string consumer;
  std::vector<std::string> streams;
  // One per stream (same order) when max_deliveries > 0 or on_backlog is set.
  std::vector<std::string> dead_letter_streams;
  // How long XREADGROUP blocks waiting for new entries.
  absl::Duration block = absl::Milliseconds(500);
  // Pending entries idle this long are taken over and handled again.
  absl::Duration retry_after = absl::Seconds(5);
  // Entries asked for per stream and read (capped by the room left).
  int read_count = 100;
  // Entries asked for per XAUTOCLAIM call.
  int reclaim_count = 100;
  // Entries being handled at once.
  int max_in_flight = 64;
  // Deliveries after which a reclaimed entry is dead-lettered; 0 = never.
  int max_deliveries = 0;
  // Wait after a failed group creation.
  absl::Duration group_retry = absl::Seconds(1);
  // If set, the group's members hash (membership.h): the consumers of the
  // group share its streams. Empty: this consumer reads every stream.
  std::string members_key;
  // How long a member counts as live without a beat; beats every ttl / 3.
  absl::Duration member_ttl = absl::Seconds(6);
  // Every `backlog_interval`: entries in all streams and dead-letter streams.
  std::function<void(int64_t entries, int64_t dead_letters)> on_backlog;
  absl::Duration backlog_interval = absl::Seconds(5);
  // Monotonic time and sleep for polling and backoff; steady clock and
  // absl::SleepFor if unset.
  std::function<absl::Duration()> monotonic_now;
  std::function<void(absl::Duration)> sleep;
  // Makes what tells the consumer which of `streams` got entries
  // (NotificationsOf). While it says notifications are on, the consumer
  // reads only those streams, without blocking. Otherwise, on one Redis (or
  // under Sentinel) it blocks on reads of every stream; on a cluster (a
  // client with one_slot_per_command) it polls (10 ms, doubling up to
  // `block`) when unset or failing, and reads everything every `block`
  // while the nodes have notifications off.
  std::function<absl::StatusOr<std::unique_ptr<redis::KeyspaceNotifications>>(
      const std::vector<std::string>& streams)>
      notifications;
};

class StreamConsumer {
 public:
  // Called exactly once per handed-out entry, from any thread.
  using Done = absl::AnyInvocable<void()>;
  using Handler = std::function<void(StreamEntry entry, Done done)>;
  using ClientFactory =
      std::function<absl::StatusOr<std::unique_ptr<redis::RedisClient>>()>;

  // `on_dead_letter` may be null (then the default dead-letter path above).
  StreamConsumer(redis::RedisClient& redis, const Clock& clock,
                 ConsumerOptions options, ClientFactory blocking_client,
                 Handler handler, Handler on_dead_letter = nullptr);
  ~StreamConsumer();
  StreamConsumer(const StreamConsumer&) = delete;
  StreamConsumer& operator=(const StreamConsumer&) = delete;

  // INVALID_ARGUMENT naming a bad option; else makes the blocking client
  // (its error if that fails). FAILED_PRECONDITION if already open.
  absl::Status Open();
  // Open (unless open already), then Poll on a thread of its own until
  // Stop. FAILED_PRECONDITION if started already.
  absl::Status Start();
  // One pass of the loop (see above) on the calling thread; for Start's
  // thread and for tests. Requires Open.
  void Poll();
  // Stops polling (joins the thread) and waits up to `grace` for entries in
  // flight; the rest stay pending. Idempotent.
  void Stop(absl::Duration grace);

  // XACK of `entry` through the shared client; `done` gets the status.
  void Ack(const StreamEntry& entry,
           absl::AnyInvocable<void(absl::Status)> done);

  const ConsumerOptions& options() const { return options_; }
  ConsumerStats stats() const;
  // The streams this consumer reads new entries from and reclaims on (all of
  // them without members_key), as of its last beat.
  std::vector<bool> owned() const;

 private:
  absl::Duration MonotonicNow() const;
  void Pause(absl::Duration d);
  bool EnsureGroups();
  // false if it must be tried again (Redis trouble).
  bool ReadOwnPending();
  void Reclaim();
  void ReadNew();
  void ReportBacklog();
  // Beats when due and logs a change of the streams owned.
  void BeatIfDue();
  bool Owns(size_t stream) const;
  // With notifications: waits until an owned stream may have entries.
  void WaitForNotifications();
  // Waits for room; hands the entry out unless it is in flight already.
  void Dispatch(StreamEntry entry);
  void DeadLetter(StreamEntry entry, Done done);
  // An error answer that means the group (or stream) is gone.
  void NoteError(const absl::Status& status);

  redis::RedisClient& redis_;
  const Clock& clock_;
  const ConsumerOptions options_;
  const ClientFactory factory_;
  const Handler handler_;
  const Handler on_dead_letter_;
  std::unique_ptr<redis::RedisClient> blocking_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};

  // Loop state (the polling thread's only).
  bool groups_ready_ = false;
  bool own_pending_read_ = false;
  std::vector<std::string> pending_after_;  // ReadOwnPending's progress.
  std::vector<bool> pending_done_;
  absl::Duration next_reclaim_ = -absl::InfiniteDuration();
  absl::Duration next_backlog_ = -absl::InfiniteDuration();
  std::unique_ptr<Membership> membership_;  // With members_key only.
  absl::Duration next_beat_ = -absl::InfiniteDuration();
  // One slot per command (Redis Cluster): the wait after an empty read
  // without notifications; with them, the streams that may have entries.
  absl::Duration idle_wait_ = absl::ZeroDuration();
  std::unique_ptr<redis::KeyspaceNotifications> notes_;
  std::vector<bool> unread_;
  absl::Duration next_full_read_ = -absl::InfiniteDuration();

  mutable absl::Mutex mu_;
  // "<stream index>/<entry id>": entry ids are per stream.
  absl::flat_hash_set<std::string> in_flight_ ABSL_GUARDED_BY(mu_);
  ConsumerStats stats_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> owned_ ABSL_GUARDED_BY(mu_);  // For owned().
};

// The production blocking client of a consumer: a client of its own for
// `options` (redis::StartRedisClient: one Redis, Sentinel or Cluster) with
// one connection (per node; a blocked read stalls everything pipelined
// behind it) and a deadline beyond the block time.
StreamConsumer::ClientFactory BlockingReadClient(redis::RedisOptions options,
                                                 absl::Duration block);

// ConsumerOptions::notifications for `options`: keyspace notifications of
// new stream entries (redis/keyspace_notifications.h), on one Redis, under
// Sentinel or on a cluster.
decltype(ConsumerOptions::notifications) NotificationsOf(
    redis::RedisOptions options);

}  // namespace makegood::streams
