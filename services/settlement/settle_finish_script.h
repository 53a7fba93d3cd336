// File: services/settlement/settle_finish_script.h
//
// Settlement step 2 (lua/settle_finish.lua) as a typed call: a provider's
// answer for one refund (or the decision to set it aside) becomes the
// script's KEYS and ARGV (BuildSettleFinishCall), and its reply one
// SettleFinishReply (ParseSettleFinishReply). The worker calls it for each
// outbox entry; makegood_admin reconcile --fix calls it, with no entry, to
// record what it found at a provider.
//
// Example:
//   ScriptCall call = BuildSettleFinishCall(keys, request);
//   redis.Eval(scripts::kSettleFinish, std::move(call.keys),
//              std::move(call.args), [](absl::StatusOr<RedisReply> r) {
//                if (!r.ok()) ...;
//                absl::StatusOr<SettleFinishReply> finished =
//                    ParseSettleFinishReply(*r);
//                if (finished->answer == SettleFinishAnswer::kDone) ...
//              });
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/redis/redis_reply.h"
#include "services/settlement/script_call.h"
#include "services/store/key_schema.h"

namespace makegood::settlement {

// What to record (ARGV[2]).
enum class SettleFinishResult {
  kSucceeded,  // The provider paid.
  kDeclined,   // The provider refused: FAILED, or wallet credit (fallback).
  kAttention,  // Set aside for an operator (dead letter + NEEDS_ATTENTION).
  kAck,        // Nothing to record: acknowledge the entry if it is final.
};

struct SettleFinishRequest {
  // Every key is built from `partition` (the outbox's), never from the ids
  // alone: a poison entry without (or with a wrong) member id must still name
  // keys of its own slot. An order lives in its member's partition.
  int partition = 0;
  std::string refund_id;
  std::string member_id;  // Names the member's wallet.
  std::string order_id;
  absl::Time now;  // Business clock.
  SettleFinishResult result = SettleFinishResult::kAck;
  std::string provider_reference;
  std::string reason;
  std::string entry_id;  // The outbox entry to acknowledge; "" for none.
  std::string group;     // The outbox's consumer group.
  std::string fallback;  // For declined card refunds: "wallet" or "".
  std::string actor;     // e.g. "settlement:<consumer>".
  int64_t deliveries = 0;
  std::string entry;  // The entry, flattened ("k=v k=v"), for dead letters.
};

// KEYS and ARGV as documented in lua/settle_finish.lua.
ScriptCall BuildSettleFinishCall(const store::KeySchema& keys,
                                 const SettleFinishRequest& request);

enum class SettleFinishAnswer {
  kDone,      // Recorded: `state` is SUCCEEDED, FAILED or NEEDS_ATTENTION.
  kAlready,   // Final already (`state`): acknowledged, nothing changed.
  kNotFinal,  // Not SETTLING (`state`): nothing recorded, entry pending.
  kDead,      // No such refund: its entry went to the dead letters.
  kMissing,   // No such refund: nothing done.
};

// The script's tag of `answer` ("DONE", "ALREADY", ...), for reports.
const char* SettleFinishAnswerName(SettleFinishAnswer answer);

struct SettleFinishReply {
  SettleFinishAnswer answer = SettleFinishAnswer::kMissing;
  std::string state;  // kDone, kAlready and kNotFinal.
  // kDone with SUCCEEDED: the refund was marked abusive while in flight and
  // is REVERSED now, in the same step.
  bool reversed = false;
};

// INTERNAL naming settle_finish when `reply` is not one of the script's
// answers.
absl::StatusOr<SettleFinishReply> ParseSettleFinishReply(
    const redis::RedisReply& reply);

}  // namespace makegood::settlement
