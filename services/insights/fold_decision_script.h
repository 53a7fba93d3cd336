// File: services/insights/fold_decision_script.h
//
// The typed call of lua/fold_decision.lua, which folds one decision event
// into the time-bucketed aggregates of its subjects and acknowledges its
// stream entry, in one atomic step: FoldDecisionRequest becomes its KEYS and
// ARGV (BuildFoldDecisionCall), its answer one FoldDecisionReply
// (ParseFoldDecisionReply). AggregateKey names the aggregate hashes, which
// read_stats_script.h reads.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/insights/decision_event.h"
#include "services/redis/redis_reply.h"
#include "services/store/key_schema.h"
#include "services/store/script_call.h"

namespace makegood::insights {

enum class Granularity { kMinute, kHour };

// The aggregate hash of one subject in one partition (stats_store.h
// describes its fields): KeySchema::InsightsKey.
std::string AggregateKey(const store::KeySchema& keys, int partition,
                         Dimension dimension, Granularity granularity,
                         absl::string_view subject);

struct FoldDecisionRequest {
  int partition = 0;  // Of the decisions stream the entry is in.
  std::string group;  // The consumer group that acknowledges it.
  std::string entry_id;
  absl::Time now;     // Decides which buckets are still kept.
  int64_t at_ms = 0;  // The event's time; 0 acknowledges only.
  int64_t minute_buckets_kept = 0;
  int64_t hour_buckets_kept = 0;
  std::string currency;  // Of the contributions' refund_minor.
  std::vector<Contribution> contributions;
};

// KEYS: the decisions stream, then per contribution its minute and hour
// aggregates. ARGV as documented in lua/fold_decision.lua.
store::ScriptCall BuildFoldDecisionCall(const store::KeySchema& keys,
                                        const FoldDecisionRequest& request);

struct FoldDecisionReply {
  bool duplicate = false;  // The entry was acknowledged before: no change.
  // Not duplicate: whether the event fell in a kept minute / hour bucket.
  bool minute_folded = false;
  bool hour_folded = false;
};

// INTERNAL naming fold_decision unless `reply` is {DUP} or {OK, 0/1, 0/1}.
absl::StatusOr<FoldDecisionReply> ParseFoldDecisionReply(
    const redis::RedisReply& reply);

}  // namespace makegood::insights
