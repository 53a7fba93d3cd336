// File: services/settlement/worker.h
//
// The settlement worker: pays the refunds the rating path commits.
//
// The commit script appends a `refund_accepted` entry to its partition's
// outbox stream (mg:{p<N>}:outbox) in the same atomic step as the refund.
// Workers read every partition's outbox through one consumer group
// ("settlement"), each under a stable consumer name (its pod/host name), with
// a streams::StreamConsumer (groups, pending reads, reclaiming, dead-letter
// hand-off), and for each entry:
//   1. settle_begin.lua: ACCEPTED -> SETTLING, recording the provider (wallet
//      and coupon refunds go to the internal providers, card refunds to the
//      configured card provider). A refund already SETTLING was taken before
//      by a worker that died or lost the provider's answer, and an ACCEPTED
//      one naming a provider was re-driven by an operator: it is RESUMED,
//      which means Lookup at the provider first — an unknown result is
//      reconciled, never guessed — and Pay only if the provider never saw it.
//   2. The provider is asked to pay with the refund id as idempotency key.
//   3. settle_finish.lua records the answer (SUCCEEDED; FAILED, or wallet
//      credit when the fallback applies; NEEDS_ATTENTION), posts the ledger,
//      notifies the member, and XACKs + XDELs the entry, atomically. An
//      entry is acknowledged only when its refund is final (or set aside
//      for an operator); an answer for a refund that is no longer SETTLING
//      records nothing and the entry stays pending.
// An unknown answer (timeout, 5xx, Redis trouble) leaves the entry pending.
// Pending entries idle for `retry_after` — this worker's or a dead worker's —
// are taken over with XAUTOCLAIM and tried again; after `max_deliveries`
// deliveries an entry goes to the dead-letter stream (mg:{p<N>}:outbox:dead)
// and its refund to NEEDS_ATTENTION, with an operator task. Nothing is ever
// dropped, and because every step is idempotent and keyed by the refund id, a
// worker killed at any point never pays twice.
//
// Example:
//   SettlementWorker worker(redis, keys, clock, providers, options);
//   absl::Status started = worker.Start(redis_options);
//   ...
//   worker.Stop();
//
// Thread-safety: Start/Stop from one thread; stats() from any.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/core/clock.h"
#include "services/redis/redis_client.h"
#include "services/redis/redis_options.h"
#include "services/settlement/provider.h"
#include "services/settlement/settle_finish_script.h"
#include "services/store/key_schema.h"
#include "services/streams/stream_consumer.h"

namespace makegood::settlement {

struct WorkerOptions {
  // Stable per process across restarts (e.g. the pod name): a restarted
  // worker resumes its own pending entries at once.
  std::string consumer = "worker";
  std::string group = "settlement";
  // The replicas share the partitions (streams/membership.h): each reads
  // the streams it owns, and a replica's share moves to the others when it
  // stops (at once) or dies (after member_ttl). false: every replica reads
  // every partition.
  bool share_partitions = true;
  absl::Duration member_ttl = absl::Seconds(6);
  // The provider of card (original payment) refunds: "sandbox" or "http".
  std::string card_provider = "sandbox";
  // What a declined card refund becomes: "wallet" (credit) or "" (FAILED).
  std::string fallback = "wallet";
  // Entries being settled at once.
  int max_in_flight = 64;
  // How long XREADGROUP blocks waiting for new entries.
  absl::Duration block = absl::Milliseconds(500);
  // Pending entries idle this long are retried (or taken over).
  absl::Duration retry_after = absl::Seconds(5);
  // Deliveries after which an entry is dead-lettered.
  int max_deliveries = 8;
  // Optional observers (metrics); called on worker or I/O threads, must be
  // quick. A provider's answer ("succeeded", "declined", "unknown", ...):
  std::function<void(absl::string_view provider, absl::string_view result)>
      on_result;
  // Accepted -> final time of each refund settled here.
  std::function<void(absl::Duration lag)> on_settled;
  // Every `backlog_interval`: entries in the outboxes and dead letters.
  std::function<void(int64_t outbox, int64_t dead_letters)> on_backlog;
  absl::Duration backlog_interval = absl::Seconds(5);
  // Monotonic time and sleep of the read loop (streams::ConsumerOptions);
  // the real ones if unset. Tests replace them.
  std::function<absl::Duration()> monotonic_now;
  std::function<void(absl::Duration)> sleep;
};

struct WorkerStats {
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  uint64_t fallbacks = 0;  // Included in succeeded.
  uint64_t attention = 0;
  uint64_t dead_letters = 0;
  uint64_t unknown = 0;    // Provider answers left for a retry.
  uint64_t reclaimed = 0;  // Entries taken over with XAUTOCLAIM.
  uint64_t resumed = 0;    // Refunds found SETTLING and reconciled.
  // Answers not recorded because the refund was not SETTLING (entry left
  // pending for a retry).
  uint64_t not_final = 0;
  // Refunds reversed as they settled (marked abusive while in flight).
  uint64_t reversed = 0;
  // Accepted -> final, per settled refund, summed (for a mean).
  absl::Duration lag_total = absl::ZeroDuration();
  absl::Duration lag_max = absl::ZeroDuration();
};

class SettlementWorker {
 public:
  // Providers by name ("wallet", "coupon", the card provider). Nothing is
  // owned; everything must outlive the worker.
  SettlementWorker(redis::RedisClient& redis, const store::KeySchema& keys,
                   const Clock& clock,
                   absl::flat_hash_map<std::string, PaymentProvider*> providers,
                   WorkerOptions options);
  ~SettlementWorker();

  // Opens a connection of its own for blocking reads (to `redis_options`),
  // creates the consumer group on every partition's outbox if missing and
  // starts the loop. FAILED_PRECONDITION if a needed provider is missing.
  absl::Status Start(redis::RedisOptions redis_options);
  // The same with the blocking client made by `blocking_client` (tests pass
  // a FakeRedis).
  absl::Status Start(streams::StreamConsumer::ClientFactory blocking_client);
  // Start without the thread: Poll then runs one pass of the read loop on
  // the caller's thread. For tests.
  absl::Status Open(streams::StreamConsumer::ClientFactory blocking_client);
  void Poll();

  // Stops reading; waits up to `grace` for entries in flight (the rest stay
  // pending and are resumed later). Idempotent.
  void Stop(absl::Duration grace = absl::Seconds(5));

  WorkerStats stats() const;

 private:
  struct Job;

  // The consumer's handler and dead-letter hook.
  void Handle(streams::StreamEntry entry, streams::StreamConsumer::Done done);
  void HandleDead(streams::StreamEntry entry,
                  streams::StreamConsumer::Done done);
  std::shared_ptr<Job> JobOf(streams::StreamEntry entry,
                             streams::StreamConsumer::Done done) const;
  void Process(std::shared_ptr<Job> job);
  void OnBegun(std::shared_ptr<Job> job, absl::StatusOr<redis::RedisReply>);
  void OnProviderAnswer(std::shared_ptr<Job> job, PayoutResult result);
  void Finish(std::shared_ptr<Job> job, SettleFinishResult result,
              std::string reference, std::string reason);
  // Counts what settle_finish answered for `job`.
  void Finished(const Job& job, absl::StatusOr<SettleFinishReply> finished);
  void Done(const std::shared_ptr<Job>& job);

  redis::RedisClient& redis_;
  const store::KeySchema& keys_;
  const Clock& clock_;
  const absl::flat_hash_map<std::string, PaymentProvider*> providers_;
  const WorkerOptions options_;
  std::unique_ptr<streams::StreamConsumer> consumer_;
  // Set by Start(redis_options): on Redis Cluster, what wakes the reads.
  decltype(streams::ConsumerOptions::notifications) notifications_;

  mutable absl::Mutex mu_;
  WorkerStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace makegood::settlement
