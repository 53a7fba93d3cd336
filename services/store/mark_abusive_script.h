// File: services/store/mark_abusive_script.h
//
// The typed call of lua/mark_abusive.lua, the correction an operator makes
// when a refund's claim was abusive: MarkAbusiveRequest becomes its KEYS and
// ARGV (BuildMarkAbusiveCall), its answer one MarkAbusiveReply
// (ParseMarkAbusiveReply).
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/redis/redis_reply.h"
#include "services/store/key_schema.h"
#include "services/store/script_call.h"

namespace makegood::store {

struct MarkAbusiveRequest {
  int partition = 0;  // The refund id's, which is its member's.
  std::string refund_id;
  // Read from the refund hash first: they name the rating, the member's
  // stats and wallet.
  std::string rating_id;
  std::string member_id;
  absl::Time now;
  std::string actor;  // "operator:<id>".
  std::string reason;
  bool reverse_refund = false;  // Take back a paid wallet credit or coupon.
};

// KEYS: refund, its events, refund feed, rating, feedback stream, member
// stats, ledger, ledger balances, member wallet. ARGV as documented in
// lua/mark_abusive.lua.
ScriptCall BuildMarkAbusiveCall(const KeySchema& keys,
                                const MarkAbusiveRequest& request);

enum class MarkAbusiveAnswer {
  kMarked,   // Marked now.
  kAlready,  // Marked before; nothing changed.
  kMissing,  // No such refund.
};

struct MarkAbusiveReply {
  MarkAbusiveAnswer answer = MarkAbusiveAnswer::kMarked;
  // kMarked:
  int64_t feedback_reversed = 0;  // Feedback items reversed.
  bool refund_reversed = false;   // A paid wallet credit / coupon reversed.
  bool reversal_pending = false;  // Not paid yet: reversed once it succeeds.
};

// INTERNAL naming mark_abusive when `reply` is not one of its answers.
absl::StatusOr<MarkAbusiveReply> ParseMarkAbusiveReply(
    const redis::RedisReply& reply);

}  // namespace makegood::store
