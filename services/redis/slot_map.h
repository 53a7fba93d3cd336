// File: services/redis/slot_map.h
//
// The pure parts of the Redis Cluster client (cluster_client.h), kept apart
// so that they are tested without a server: which node serves each of the
// 16384 hash slots (SlotMap), read from a CLUSTER SLOTS answer
// (ParseClusterSlots); the MOVED and ASK redirects (ParseRedirect); the
// key a command is routed by (RoutingKey); and the one slot of a MULTI/EXEC
// block (BlockSlot).
//
// Example:
//   SlotMap map;
//   ASSIGN_OR_RETURN(auto ranges, ParseClusterSlots(reply, asked));
//   map.Assign(ranges);
//   const RedisAddress* node = map.NodeOf(KeySlot(*RoutingKey(argv)));
//
// Thread-safety: plain values; not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/redis/key_slot.h"
#include "services/redis/redis_options.h"
#include "services/redis/redis_reply.h"

namespace makegood::redis {

// Slots first..last (inclusive) are served by `primary`.
struct SlotRange {
  int first = 0;
  int last = 0;
  RedisAddress primary;

  bool operator==(const SlotRange&) const = default;
};

// Reads a CLUSTER SLOTS answer: [[first, last, [ip, port, id, ...],
// replicas...], ...]. Only primaries are kept. An empty or nil ip means the
// node that was asked (`asked`). INTERNAL naming what is wrong when the
// answer has another shape or a slot out of range.
absl::StatusOr<std::vector<SlotRange>> ParseClusterSlots(
    const RedisReply& reply, const RedisAddress& asked);

// "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>". The last ':'
// separates the port, so an IPv6 host needs no brackets; an empty host
// means the node that answered (`answered_by`).
struct Redirect {
  enum class Kind { kMoved, kAsk };
  Kind kind = Kind::kMoved;
  int slot = 0;
  RedisAddress address;

  bool operator==(const Redirect&) const = default;
};

// The redirect in an error reply's text; nullopt for any other error (or a
// malformed redirect, which then completes the command as an error).
std::optional<Redirect> ParseRedirect(absl::string_view error,
                                      const RedisAddress& answered_by);

// The key whose slot a command goes to; nullopt for a command without keys
// (it goes to any primary). The rule:
//   - EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, FCALL, FCALL_RO: the first of the
//     KEYS (argv[3] when numkeys > 0), else none;
//   - XREAD, XREADGROUP: the first key after STREAMS;
//   - XGROUP, XINFO, OBJECT, MEMORY: argv[2] (after the subcommand);
//   - commands that take no key (PING, INFO, CLUSTER, SCRIPT, DBSIZE, SCAN,
//     KEYS, FLUSHALL, FLUSHDB, TIME, ECHO, CONFIG, CLIENT, COMMAND, ROLE,
//     MULTI, EXEC, DISCARD, WAIT, FUNCTION, PUBLISH, ...): none;
//   - every other command: argv[1], its first argument.
// Commands whose keys span slots are refused by Redis (CROSSSLOT) whichever
// node gets them; makegood passes one hash tag per call.
std::optional<absl::string_view> RoutingKey(
    const std::vector<std::string>& argv);

// The slot every command of a MULTI/EXEC block routes by (RoutingKey),
// which must be one: a block runs on one node, and Redis refuses one whose
// keys span slots (CROSSSLOT). INVALID_ARGUMENT naming two keys of
// different slots, or when no command names a key (a block without keys
// has no node of its own). Only the routing key of each command is looked
// at: other keys of a multi-key command are Redis's to check.
absl::StatusOr<int> BlockSlot(
    const std::vector<std::vector<std::string>>& commands);

// Which primary serves each slot. Starts empty (no slot served).
class SlotMap {
 public:
  SlotMap() { slots_.fill(-1); }

  // Replaces the whole map with `ranges`; slots not in any are unserved.
  void Assign(const std::vector<SlotRange>& ranges);
  // One slot moved to `primary` (a MOVED redirect).
  void Set(int slot, const RedisAddress& primary);

  // The primary serving `slot`, or null when none does.
  const RedisAddress* NodeOf(int slot) const;
  // The primaries serving at least one slot.
  std::vector<RedisAddress> Primaries() const;
  bool empty() const { return served_ == 0; }

 private:
  int IndexOf(const RedisAddress& node);

  std::array<int16_t, kClusterSlots> slots_;
  std::vector<RedisAddress> nodes_;
  int served_ = 0;
};

}  // namespace makegood::redis
