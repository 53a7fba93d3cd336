// File: services/rating/client_leases.h
//
// The calling client's rate limit without a Redis script call per rating.
//
// The limit itself lives in Redis: one GCRA key per client
// (lua/rate_limit.lua), shared by every replica, so it holds across the
// fleet. Instead of charging it one request at a time, a replica leases a
// batch of cells (about 50 ms of the client's sustained rate, at most a
// quarter of its burst) in the same pipelined write as the admit script, and
// hands the cells out locally until they run out or lapse (one second). Most
// ratings and replays then cost no client-limit script at all.
//
// What it changes about the limit:
//   - the fleet never lets more through than the limit allows: every cell was
//     charged in Redis before a request used it;
//   - cells leased and not used lapse, so a client close to its limit can be
//     refused up to one lease per replica early (the safe side);
//   - a limit whose burst is under 4 or that is in shadow mode leases one
//     cell at a time, i.e. is exact, as before leases.
//
// Thread-safety: thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/rating/rate_limit_script.h"
#include "services/rating/rate_limits.h"

namespace makegood::rating {

class ClientLeases {
 public:
  // Leased cells lapse `lifetime` after their lease; at most `max_clients`
  // clients' leases are kept (clients without cells are forgotten first).
  explicit ClientLeases(absl::Duration lifetime = absl::Seconds(1),
                        size_t max_clients = 10000);

  // Cells leased at once for `spec`: about 50 ms of its sustained rate, at
  // most a quarter of its burst, at least 1; 1 in shadow mode.
  static int64_t LeaseSize(const LimitSpec& spec);

  // One of `client`'s leased cells, if this replica holds one that has not
  // lapsed: the call is allowed, with the client's remaining cells (in Redis
  // and here) and its reset. nullopt: lease from Redis (CellsToLease).
  std::optional<RateLimitReply> TryTake(absl::string_view client,
                                        absl::Time now);

  // The cells to ask Redis for now (LeaseSize, or 1 while another lease of
  // the client is in flight, so that concurrent calls do not all lease a
  // batch), counting the lease as in flight until OnLeased or OnLeaseFailed.
  int64_t BeginLease(absl::string_view client, const LimitSpec& spec);

  // The reply to a lease: its granted cells join the client's, and the
  // caller takes one. The reply to answer the call with: allowed if the
  // caller got a cell, from this lease or one that landed meanwhile.
  RateLimitReply OnLeased(absl::string_view client, const RateLimitReply& reply,
                          absl::Time now);
  // A lease that got no answer (Redis error, malformed reply).
  void OnLeaseFailed(absl::string_view client);

  // Cells `client` holds here now (for tests).
  int64_t CellsHeld(absl::string_view client, absl::Time now) const;

 private:
  struct Lease {
    int64_t cells = 0;  // Leased and not yet handed out.
    absl::Time lapses = absl::InfinitePast();
    absl::Time leased_at = absl::InfinitePast();
    int64_t remaining = 0;  // In Redis, after the last lease.
    int64_t reset_ms = 0;   // As of leased_at.
    int in_flight = 0;
  };
  // Forgets clients holding no cells (or only lapsed ones) and no lease in
  // flight, once there are more than max_clients_.
  void ForgetIdle(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const absl::Duration lifetime_;
  const size_t max_clients_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Lease> leases_ ABSL_GUARDED_BY(mu_);
};

}  // namespace makegood::rating
