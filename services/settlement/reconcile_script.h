// File: services/settlement/reconcile_script.h
//
// Reopening a refund set aside for an operator (lua/reconcile_refund.lua) as
// a typed call: the refund becomes the script's KEYS and ARGV
// (BuildReconcileRefundCall), and its reply one ReconcileRefundReply
// (ParseReconcileRefundReply). makegood_admin reconcile --fix reopens a
// NEEDS_ATTENTION refund (-> SETTLING) once its provider has answered, then
// records that answer with settle_finish (settle_finish_script.h).
//
// Pure functions; thread-safe.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/redis/redis_reply.h"
#include "services/settlement/script_call.h"
#include "services/store/key_schema.h"

namespace makegood::settlement {

struct ReconcileRefundRequest {
  int partition = 0;  // The refund's.
  std::string refund_id;
  absl::Time now;
  std::string actor;   // e.g. "operator:reconcile".
  std::string reason;  // Recorded on the transition.
};

// KEYS: refund, its events, the partition's refund feed and attention index.
// ARGV as documented in lua/reconcile_refund.lua.
ScriptCall BuildReconcileRefundCall(const store::KeySchema& keys,
                                    const ReconcileRefundRequest& request);

enum class ReconcileRefundAnswer {
  kReopened,  // NEEDS_ATTENTION -> SETTLING, out of the attention index.
  kNotSent,   // No provider recorded: nothing to reconcile (re-drive it).
  kSkipped,   // Not NEEDS_ATTENTION (`state`): moved by someone else.
  kMissing,   // No such refund.
};

// The script's tag of `answer` ("REOPENED", ...), for reports.
const char* ReconcileRefundAnswerName(ReconcileRefundAnswer answer);

struct ReconcileRefundReply {
  ReconcileRefundAnswer answer = ReconcileRefundAnswer::kMissing;
  std::string state;  // kSkipped.
};

// INTERNAL naming reconcile_refund when `reply` is not one of the script's
// answers.
absl::StatusOr<ReconcileRefundReply> ParseReconcileRefundReply(
    const redis::RedisReply& reply);

}  // namespace makegood::settlement
