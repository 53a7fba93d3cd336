// File: services/retention/sweeper.h
//
// Closes retention windows when they are due. Every `interval` it reads each
// partition's schedule (KeySchema::TroublesDueKey) up to now, `batch` at a
// time, and hands each batch to lua/close_troubles.lua, which adds every
// due window to its cohort and moves the trouble on to its next window (or
// forgets it after 90 days). Nothing is ever rescanned: a trouble is
// touched once per window.
//
// Two sweepers (two worker replicas) may run at once: the script closes a
// window only while it is due, so each is counted once. A sweeper that was
// down catches up on its next pass: a pass closes every window due at its
// start (a trouble whose later windows are due too comes round again within
// the pass).
//
// Example:
//   Sweeper sweeper(redis, keys, clock, {.interval = absl::Seconds(60)});
//   sweeper.Start();
//   ...
//   sweeper.Stop();
//
// Thread-safety: Start/Stop from one thread; SweepOnce and stats() from
// any. The client, key schema and clock must outlive the sweeper.
#pragma once

#include <cstdint>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/core/clock.h"
#include "services/redis/redis_client.h"
#include "services/store/key_schema.h"

namespace makegood::retention {

struct SweeperOptions {
  // Time between passes; a window closes at most this late.
  absl::Duration interval = absl::Seconds(60);
  // How long a day of the windows lasts (a day but in simulations).
  absl::Duration day = absl::Hours(24);
  // Troubles per script call.
  int batch = 100;
};

struct SweeperStats {
  uint64_t passes = 0;
  uint64_t closed = 0;   // Windows closed.
  uint64_t skipped = 0;  // Read as due, found not due (another sweeper).
  uint64_t failed = 0;   // Partitions whose pass failed (retried next pass).
};

class Sweeper {
 public:
  Sweeper(redis::RedisClient& redis, const store::KeySchema& keys,
          const Clock& clock, SweeperOptions options);
  ~Sweeper();

  Sweeper(const Sweeper&) = delete;
  Sweeper& operator=(const Sweeper&) = delete;

  // Starts the thread (a pass at once, then every interval). Idempotent.
  void Start();
  // Stops after the pass in progress. Idempotent.
  void Stop();

  // One pass over every partition on the caller's thread (blocking calls:
  // never from a callback or a gRPC handler). The first error; the other
  // partitions are swept all the same.
  absl::Status SweepOnce();

  SweeperStats stats() const;

 private:
  absl::Status SweepPartition(int partition);
  void Run();

  redis::RedisClient& redis_;
  const store::KeySchema& keys_;
  const Clock& clock_;
  const SweeperOptions options_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  SweeperStats stats_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace makegood::retention
