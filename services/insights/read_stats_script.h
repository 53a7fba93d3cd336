// File: services/insights/read_stats_script.h
//
// The typed call of lua/read_stats.lua: one subject's figures in one
// partition, summed over a range of buckets of its aggregate hash
// (BuildReadStatsCall, ParseReadStatsReply). StatsStore sums the partitions.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "services/insights/decision_event.h"
#include "services/insights/fold_decision_script.h"
#include "services/redis/redis_reply.h"
#include "services/store/key_schema.h"
#include "services/store/script_call.h"

namespace makegood::insights {

struct ReadStatsRequest {
  int partition = 0;
  Dimension dimension = Dimension::kStore;
  Granularity granularity = Granularity::kMinute;
  std::string subject;
  // Unix minutes or hours, both inclusive.
  int64_t first_bucket = 0;
  int64_t last_bucket = 0;
};

// KEYS: the subject's aggregate hash (AggregateKey). ARGV: first bucket,
// last bucket.
store::ScriptCall BuildReadStatsCall(const store::KeySchema& keys,
                                     const ReadStatsRequest& request);

struct ReadStatsReply {
  int64_t ratings = 0;
  int64_t satisfaction_sum = 0;
  int64_t refunded_ratings = 0;
  std::map<std::string, int64_t> refunded_minor;  // Per currency.
};

// INTERNAL naming read_stats unless `reply` is {ratings, satisfaction,
// refunded, then (currency, minor units) pairs}.
absl::StatusOr<ReadStatsReply> ParseReadStatsReply(
    const redis::RedisReply& reply);

}  // namespace makegood::insights
