// File: services/settlement/settle_begin_script.h
//
// Settlement step 1 (lua/settle_begin.lua) as a typed call: a worker taking a
// refund from its partition's outbox becomes the script's KEYS and ARGV
// (BuildSettleBeginCall), and its reply one SettleBeginReply
// (ParseSettleBeginReply). What each answer asks of the worker is in
// worker.h.
//
// Example:
//   ScriptCall call = BuildSettleBeginCall(keys, request);
//   redis.Eval(scripts::kSettleBegin, std::move(call.keys),
//              std::move(call.args), [](absl::StatusOr<RedisReply> r) {
//                if (!r.ok()) ...;
//                absl::StatusOr<SettleBeginReply> begun =
//                    ParseSettleBeginReply(*r);
//                switch (begun->answer) { case SettleBeginAnswer::kSettle: ...
//                }
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

struct SettleBeginRequest {
  int partition = 0;  // The outbox's, which is the refund's.
  std::string refund_id;
  absl::Time now;             // Business clock.
  std::string card_provider;  // Pays card refunds ("sandbox", "http").
  std::string actor;          // e.g. "settlement:<consumer>".
};

// KEYS: refund, its events, the partition's refund feed. ARGV as documented
// in lua/settle_begin.lua.
ScriptCall BuildSettleBeginCall(const store::KeySchema& keys,
                                const SettleBeginRequest& request);

enum class SettleBeginAnswer {
  kSettle,   // Now SETTLING at `provider`: pay it.
  kResume,   // Sent to `provider` before: look it up, pay only if unseen.
  kFinal,    // Final already (`state`): only the acknowledgement is left.
  kMissing,  // No such refund.
};

struct SettleBeginReply {
  SettleBeginAnswer answer = SettleBeginAnswer::kMissing;
  std::string state;  // kFinal: the refund's state.
  // kSettle and kResume: the refund as recorded.
  std::string provider;
  int64_t amount_minor = 0;
  std::string currency;
  std::string instrument;
  std::string member_id;
  std::string order_id;
  std::string payment_reference;  // "" for none.
  int64_t attempts = 0;           // Including this one.
  int64_t created_at_ms = 0;      // 0 when not recorded.
};

// INTERNAL naming settle_begin when `reply` is not one of the script's
// answers.
absl::StatusOr<SettleBeginReply> ParseSettleBeginReply(
    const redis::RedisReply& reply);

}  // namespace makegood::settlement
