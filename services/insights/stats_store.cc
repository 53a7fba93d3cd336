#include "services/insights/stats_store.h"

#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/insights/fold_decision_script.h"
#include "services/insights/lua/scripts.h"
#include "services/insights/read_stats_script.h"

namespace makegood::insights {
namespace {

using redis::RedisReply;

int64_t BucketMillis(Granularity granularity) {
  return granularity == Granularity::kMinute ? 60'000 : 3'600'000;
}

// Floor division: bucket of a unix time in ms (never negative here, but the
// arithmetic should not depend on it).
int64_t BucketOf(int64_t ms, int64_t bucket_ms) {
  int64_t q = ms / bucket_ms;
  return (ms % bucket_ms < 0) ? q - 1 : q;
}

// Read state shared by the per-partition replies; the last one reports.
struct ReadState {
  absl::Mutex mu;
  int remaining ABSL_GUARDED_BY(mu) = 0;
  SubjectStats sum ABSL_GUARDED_BY(mu);
  absl::Status error ABSL_GUARDED_BY(mu);
  absl::AnyInvocable<void(absl::StatusOr<SubjectStats>)> done;
};

absl::Status AddPartition(const RedisReply& reply, SubjectStats& sum) {
  absl::StatusOr<ReadStatsReply> read = ParseReadStatsReply(reply);
  if (!read.ok()) return read.status();
  sum.ratings += read->ratings;
  sum.satisfaction_sum += read->satisfaction_sum;
  sum.refunded_ratings += read->refunded_ratings;
  for (const auto& [currency, minor] : read->refunded_minor) {
    sum.refunded_minor[currency] += minor;
  }
  return absl::OkStatus();
}

}  // namespace

std::string StatsStore::DecisionsKey(int partition) const {
  return keys_.DecisionsKey(partition);
}

std::string StatsStore::AggregateKey(int partition, Dimension dimension,
                                     Granularity granularity,
                                     absl::string_view subject) const {
  return insights::AggregateKey(keys_, partition, dimension, granularity,
                                subject);
}

void StatsStore::Fold(
    int partition, const std::string& group, const std::string& entry_id,
    int64_t at_ms, const std::vector<Contribution>& contributions,
    const std::string& currency, absl::Time now,
    absl::AnyInvocable<void(absl::StatusOr<FoldResult>)> done) {
  store::ScriptCall call = BuildFoldDecisionCall(
      keys_, FoldDecisionRequest{.partition = partition,
                                 .group = group,
                                 .entry_id = entry_id,
                                 .now = now,
                                 .at_ms = at_ms,
                                 .minute_buckets_kept = kMinuteBucketsKept,
                                 .hour_buckets_kept = kHourBucketsKept,
                                 .currency = currency,
                                 .contributions = contributions});
  redis_.Eval(
      scripts::kFoldDecision, std::move(call.keys), std::move(call.args),
      [done = std::move(done)](absl::StatusOr<RedisReply> reply) mutable {
        if (!reply.ok()) {
          done(reply.status());
          return;
        }
        absl::StatusOr<FoldDecisionReply> folded =
            ParseFoldDecisionReply(*reply);
        if (!folded.ok()) {
          done(folded.status());
          return;
        }
        if (folded->duplicate) {
          done(FoldResult::kDuplicate);
          return;
        }
        done(folded->hour_folded ? FoldResult::kFolded : FoldResult::kStale);
      });
}

void StatsStore::Read(
    Dimension dimension, const std::string& subject, Window window,
    absl::Time now,
    absl::AnyInvocable<void(absl::StatusOr<SubjectStats>)> done) {
  const int64_t last =
      BucketOf(absl::ToUnixMillis(now), BucketMillis(window.granularity));
  auto state = std::make_shared<ReadState>();
  state->done = std::move(done);
  {
    absl::MutexLock lock(&state->mu);
    state->remaining = keys_.partitions();
  }
  for (int p = 0; p < keys_.partitions(); ++p) {
    store::ScriptCall call = BuildReadStatsCall(
        keys_, ReadStatsRequest{.partition = p,
                                .dimension = dimension,
                                .granularity = window.granularity,
                                .subject = subject,
                                .first_bucket = last - window.buckets + 1,
                                .last_bucket = last});
    redis_.Eval(scripts::kReadStats, std::move(call.keys), std::move(call.args),
                [state](absl::StatusOr<RedisReply> reply) {
                  bool last_reply;
                  {
                    absl::MutexLock lock(&state->mu);
                    if (state->error.ok()) {
                      state->error = reply.ok()
                                         ? AddPartition(*reply, state->sum)
                                         : reply.status();
                    }
                    last_reply = --state->remaining == 0;
                  }
                  if (!last_reply) return;
                  // Every reply is in: nothing else touches the state now.
                  absl::StatusOr<SubjectStats> result;
                  {
                    absl::MutexLock lock(&state->mu);
                    if (state->error.ok()) {
                      result = std::move(state->sum);
                    } else {
                      result = state->error;
                    }
                  }
                  state->done(std::move(result));
                });
  }
}

}  // namespace makegood::insights
