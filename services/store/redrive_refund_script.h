// File: services/store/redrive_refund_script.h
//
// The typed call of lua/redrive_refund.lua, which sends a refund settlement
// set aside back to settlement: RedriveRefundRequest becomes its KEYS and
// ARGV (BuildRedriveRefundCall), its answer one RedriveRefundReply
// (ParseRedriveRefundReply).
//
// Pure functions; thread-safe.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/redis/redis_reply.h"
#include "services/store/key_schema.h"
#include "services/store/script_call.h"

namespace makegood::store {

struct RedriveRefundRequest {
  int partition = 0;  // The refund id's.
  std::string refund_id;
  absl::Time now;
  std::string actor;  // "operator:<id>".
  std::string reason;
};

// KEYS: refund, its events, refund feed, outbox, attention index. ARGV as
// documented in lua/redrive_refund.lua.
ScriptCall BuildRedriveRefundCall(const KeySchema& keys,
                                  const RedriveRefundRequest& request);

enum class RedriveRefundAnswer {
  kRedriven,       // A new outbox entry carries it.
  kInProgress,     // An outbox entry carries it already.
  kNotRedrivable,  // Final (SUCCEEDED, FAILED, REVERSED).
  kMissing,        // No such refund.
};

struct RedriveRefundReply {
  RedriveRefundAnswer answer = RedriveRefundAnswer::kRedriven;
  std::string outbox_entry_id;  // kRedriven.
  std::string state;            // kInProgress, kNotRedrivable.
};

// INTERNAL naming redrive_refund when `reply` is not one of its answers.
absl::StatusOr<RedriveRefundReply> ParseRedriveRefundReply(
    const redis::RedisReply& reply);

}  // namespace makegood::store
