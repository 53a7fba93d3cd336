// File: services/insights/stats_store.h
//
// The aggregates behind InsightsService: time-bucketed counters per store,
// courier and SKU, kept in Redis beside the decision events they come from.
//
// Key schema (N = the partition of the decisions stream the events came
// from, so one subject has up to one hash per partition):
//   mg:{p<N>}:ins:<store|courier|sku>:m:<subject id>  hash  minute buckets
//   mg:{p<N>}:ins:<store|courier|sku>:h:<subject id>  hash  hour buckets
// with, per bucket b (unix minute / unix hour), the fields
//   b:n  ratings      b:sat  sum of satisfaction (0-100 each)
//   b:ref ratings that refunded or credited money
//   b:amt:<currency> money refunded, minor units
// and `pruned` (buckets below it were deleted). Minute hashes keep 120
// buckets (2 h), hour hashes 192 (8 days): older fields are deleted by the
// next fold of the subject in that partition, and a hash not written for
// that long expires (PEXPIRE on every fold).
//
// Windows are whole buckets ending with the current one: 1 h is the current
// minute and the 59 before it, 24 h the current hour and the 23 before it,
// 7 d the current hour and the 167 before it. An event older than the
// window is never counted; one up to a bucket younger than the window's
// length may already have dropped out.
//
// Fold and Read are asynchronous: `done` runs on the Redis I/O thread and
// must not block.
//
// Thread-safety: thread-safe; the client and key schema must outlive it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/insights/decision_event.h"
#include "services/insights/fold_decision_script.h"
#include "services/redis/redis_client.h"
#include "services/store/key_schema.h"

namespace makegood::insights {

// A rolling window: the current bucket and the `buckets - 1` before it.
struct Window {
  Granularity granularity = Granularity::kMinute;
  int buckets = 0;
};

inline constexpr Window kWindow1Hour{Granularity::kMinute, 60};
inline constexpr Window kWindow24Hours{Granularity::kHour, 24};
inline constexpr Window kWindow7Days{Granularity::kHour, 168};

// Buckets kept per granularity (see above). More than the longest window, so
// events that arrive a little late still count.
inline constexpr int kMinuteBucketsKept = 120;
inline constexpr int kHourBucketsKept = 192;

// One subject's figures over a window, summed over every partition.
struct SubjectStats {
  int64_t ratings = 0;
  int64_t satisfaction_sum = 0;
  int64_t refunded_ratings = 0;
  std::map<std::string, int64_t> refunded_minor;  // Per currency.
};

enum class FoldResult {
  kFolded,     // Counted (at least in the hour buckets) and acknowledged.
  kStale,      // Acknowledged; too old for any kept bucket, not counted.
  kDuplicate,  // Already acknowledged before: nothing changed.
};

class StatsStore {
 public:
  // Does not take ownership; both must outlive the store.
  StatsStore(redis::RedisClient& redis, const store::KeySchema& keys)
      : redis_(redis), keys_(keys) {}

  // mg:{p<N>}:decisions.
  std::string DecisionsKey(int partition) const;
  // The aggregate hash of one subject in one partition (see above).
  std::string AggregateKey(int partition, Dimension dimension,
                           Granularity granularity,
                           absl::string_view subject) const;

  // Adds `contributions` (of an event at `at_ms`; 0 with no contributions to
  // acknowledge a malformed entry) to their buckets in `partition` and
  // XACKs `entry_id` of that partition's decisions stream for `group`,
  // atomically. `now` decides which buckets are still kept.
  void Fold(int partition, const std::string& group,
            const std::string& entry_id, int64_t at_ms,
            const std::vector<Contribution>& contributions,
            const std::string& currency, absl::Time now,
            absl::AnyInvocable<void(absl::StatusOr<FoldResult>)> done);

  // Sums the subject's buckets in `window` ending at `now` over all
  // partitions (one read script per partition, pipelined). A subject never
  // seen has all zeros. UNAVAILABLE / INTERNAL as the Redis client reports.
  void Read(Dimension dimension, const std::string& subject, Window window,
            absl::Time now,
            absl::AnyInvocable<void(absl::StatusOr<SubjectStats>)> done);

 private:
  redis::RedisClient& redis_;
  const store::KeySchema& keys_;
};

}  // namespace makegood::insights
