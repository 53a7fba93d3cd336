// File: services/streams/membership.h
//
// Consumers of one consumer group share its streams (one per partition)
// rather than every consumer reading every stream: each stream is read by
// one live consumer, and a consumer that dies or stops hands its share to the
// others.
//
// Liveness: each consumer beats (lua/membership.lua) every `ttl / 3`,
// writing its expiry (now + ttl, on the Redis server's clock) into the
// group's members hash and reading the live members back. A member whose
// expiry has passed is dead; a clean stop leaves at once.
//
// Ownership: rendezvous hashing. Stream s belongs to the live member m with
// the highest Weight(m, s), a stable 64-bit hash (not absl::Hash, which
// differs between processes). Every member that sees the same live set
// agrees on every owner without talking to the others, and a member's
// arrival or departure moves only the streams it gains or loses
// (about streams / members of them).
//
// While views differ (a beat apart), a stream can briefly have two readers
// or none. Two readers of one consumer group are harmless (Redis hands each
// entry to one of them); none delays a stream by at most one beat, and a
// dead member's pending entries are taken over by the new owner's reclaim
// (StreamConsumer).
//
// Example:
//   Membership members(redis, keys.ConsumersKey("settlement"), "pod-a", 64,
//                      absl::Seconds(6));
//   absl::Status beat = members.Beat();   // Every ttl / 3.
//   if (members.owned()[s]) { ... read stream s ... }
//   members.Leave();                      // On a clean stop.
//
// Thread-safety: not thread-safe; one thread beats and reads owned().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/redis/redis_client.h"

namespace makegood::streams {

// The rendezvous weight of `member` for stream `stream`: stable across
// processes, builds and machines.
uint64_t Weight(absl::string_view member, int stream);

// Which of `streams` streams `me` owns among `live` (me included or not: a
// member absent from `live` owns nothing).
std::vector<bool> OwnedStreams(const std::vector<std::string>& live,
                               absl::string_view me, int streams);

class Membership {
 public:
  // `members_key` holds the group's members (one hash slot of its own);
  // `ttl` is how long a member counts as live without a beat.
  Membership(redis::RedisClient& redis, std::string members_key, std::string me,
             int streams, absl::Duration ttl);

  // Beats and recomputes owned(). On failure (Redis down) owned() keeps the
  // last answer: the streams cannot be read then either.
  absl::Status Beat();
  // Leaves the group (best effort) and owns nothing.
  absl::Status Leave();

  // Indexed by stream; all false before the first successful beat.
  const std::vector<bool>& owned() const { return owned_; }
  // The live members of the last successful beat, sorted.
  const std::vector<std::string>& live() const { return live_; }
  absl::Duration ttl() const { return ttl_; }

 private:
  absl::StatusOr<std::vector<std::string>> Call(absl::Duration ttl);

  redis::RedisClient& redis_;
  const std::string members_key_;
  const std::string me_;
  const int streams_;
  const absl::Duration ttl_;
  std::vector<bool> owned_;
  std::vector<std::string> live_;
};

}  // namespace makegood::streams
