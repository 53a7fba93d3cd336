// File: services/retention/retention_store.h
//
// Reads retention after trouble: the closed windows the sweeper added to
// each partition's cohort hash (KeySchema::RetentionKey), or to one store's
// or courier's (KeySchema::RetentionSubjectKey), summed over every
// partition and grouped by the labels asked for.
//
// Stored fields (lua/close_troubles.lua): a cohort hash has
// "<9 labels>\t<days>\t<stat>", a store's or courier's
// "<outcome>\t<recovery>\t<currency>\t<days>\t<stat>", where stat is n
// (troubles whose window closed), r (reordered), s (spend) or p (paid).
//
// Example:
//   RetentionStore store(redis, keys);
//   store.Read({.group_by = {Label::kOutcome}}, [](auto stats) { ... });
//
// Thread-safety: thread-safe; `done` runs on the Redis I/O thread.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "makegood/v1/insights_service.pb.h"
#include "services/redis/redis_client.h"
#include "services/store/key_schema.h"

namespace makegood::retention {

// The labels of a trouble, in the order the cohort fields hold them (and
// the order of makegood.v1.RetentionDimension, from 1).
enum class Label {
  kOutcome = 0,
  kRecovery,
  kInstrument,
  kAmountBand,
  kTimeToSucceeded,
  kPolicyVersion,
  kArm,
  kTier,
  kCurrency,
};
inline constexpr int kLabelCount = 9;

struct RetentionQuery {
  std::vector<Label> group_by;
  std::vector<std::pair<Label, std::string>> filters;
  // "" for every trouble, else "store" or "courier": then only kOutcome,
  // kRecovery and kCurrency can be grouped or filtered by.
  std::string subject_kind;
  std::string subject_id;
};

// One window of a cohort; money per currency.
struct WindowCounts {
  int64_t troubles = 0;
  int64_t reordered = 0;
  std::map<std::string, int64_t> spend_minor;
  std::map<std::string, int64_t> paid_minor;
};

struct Cohort {
  std::vector<std::string> labels;      // One per group_by label, in its order.
  std::array<WindowCounts, 3> windows;  // kWindowDays order.
};

struct RetentionStats {
  std::vector<Cohort> cohorts;  // Ordered by labels.
  int64_t open_troubles = 0;    // Troubles with a window still open.
};

// A 95 % Wilson score interval of a proportion; [0, 0] when n is 0.
struct Interval {
  double low = 0;
  double high = 0;
};
Interval Wilson95(int64_t successes, int64_t n);

// One window of a cohort as GetRetentionStats answers it: counts, the rate
// and its Wilson interval, and per currency spend, paid and net value.
void RetentionWindowToProto(int days, const WindowCounts& counts,
                            makegood::v1::RetentionWindow& out);

// Adds one partition's hash (HGETALL: field, value, ...) to `cohorts`
// (keyed by the grouped labels). A field that is not a retention field is
// INTERNAL naming it.
absl::Status AddPartition(const RetentionQuery& query,
                          const std::vector<redis::RedisReply>& hash,
                          std::map<std::vector<std::string>, Cohort>& cohorts);

class RetentionStore {
 public:
  // Does not take ownership; both must outlive the store.
  RetentionStore(redis::RedisClient& redis, const store::KeySchema& keys)
      : redis_(redis), keys_(keys) {}

  // Every partition's hash and schedule size, pipelined. UNAVAILABLE /
  // INTERNAL as the Redis client reports.
  void Read(RetentionQuery query,
            absl::AnyInvocable<void(absl::StatusOr<RetentionStats>)> done);

 private:
  redis::RedisClient& redis_;
  const store::KeySchema& keys_;
};

}  // namespace makegood::retention
