#include "services/insights/stats_store.h"

#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/insights/lua/scripts.h"

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
  auto elements = redis::ReplyArray(reply, 3, "read_stats");
  if (!elements.ok()) return elements.status();
  const std::vector<RedisReply>& e = **elements;
  int64_t values[3];
  for (int i = 0; i < 3; ++i) {
    auto v = redis::ReplyInteger(e[i], "read_stats");
    if (!v.ok()) return v.status();
    values[i] = *v;
  }
  sum.ratings += values[0];
  sum.satisfaction_sum += values[1];
  sum.refunded_ratings += values[2];
  for (size_t i = 3; i + 1 < e.size(); i += 2) {
    auto currency = redis::ReplyText(e[i], "read_stats currency");
    if (!currency.ok()) return currency.status();
    auto minor = redis::ReplyInteger(e[i + 1], "read_stats money");
    if (!minor.ok()) return minor.status();
    sum.refunded_minor[*currency] += *minor;
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
  return keys_.InsightsKey(partition, DimensionName(dimension),
                           granularity == Granularity::kMinute ? "m" : "h",
                           subject);
}

void StatsStore::Fold(
    int partition, const std::string& group, const std::string& entry_id,
    int64_t at_ms, const std::vector<Contribution>& contributions,
    const std::string& currency, absl::Time now,
    absl::AnyInvocable<void(absl::StatusOr<FoldResult>)> done) {
  std::vector<std::string> keys;
  keys.reserve(1 + 2 * contributions.size());
  keys.push_back(DecisionsKey(partition));
  std::vector<std::string> args = {group,
                                   entry_id,
                                   absl::StrCat(absl::ToUnixMillis(now)),
                                   absl::StrCat(at_ms),
                                   absl::StrCat(kMinuteBucketsKept),
                                   absl::StrCat(kHourBucketsKept),
                                   currency};
  args.reserve(args.size() + 3 * contributions.size());
  for (const Contribution& c : contributions) {
    keys.push_back(
        AggregateKey(partition, c.dimension, Granularity::kMinute, c.subject));
    keys.push_back(
        AggregateKey(partition, c.dimension, Granularity::kHour, c.subject));
    args.push_back(absl::StrCat(c.satisfaction));
    args.push_back(c.refunded ? "1" : "0");
    args.push_back(absl::StrCat(c.refund_minor));
  }
  redis_.Eval(
      scripts::kFoldDecision, std::move(keys), std::move(args),
      [done = std::move(done)](absl::StatusOr<RedisReply> reply) mutable {
        if (!reply.ok()) {
          done(reply.status());
          return;
        }
        auto elements = redis::ReplyArray(*reply, 1, "fold_decision");
        if (!elements.ok()) {
          done(elements.status());
          return;
        }
        const std::vector<RedisReply>& e = **elements;
        if (e[0].str == "DUP") {
          done(FoldResult::kDuplicate);
          return;
        }
        if (e[0].str != "OK" || e.size() < 3) {
          done(absl::InternalError("unexpected fold_decision reply"));
          return;
        }
        done(e[2].integer == 1 ? FoldResult::kFolded : FoldResult::kStale);
      });
}

void StatsStore::Read(
    Dimension dimension, const std::string& subject, Window window,
    absl::Time now,
    absl::AnyInvocable<void(absl::StatusOr<SubjectStats>)> done) {
  const int64_t last =
      BucketOf(absl::ToUnixMillis(now), BucketMillis(window.granularity));
  const std::string first_arg = absl::StrCat(last - window.buckets + 1);
  const std::string last_arg = absl::StrCat(last);
  auto state = std::make_shared<ReadState>();
  state->done = std::move(done);
  {
    absl::MutexLock lock(&state->mu);
    state->remaining = keys_.partitions();
  }
  for (int p = 0; p < keys_.partitions(); ++p) {
    redis_.Eval(
        scripts::kReadStats,
        {AggregateKey(p, dimension, window.granularity, subject)},
        {first_arg, last_arg}, [state](absl::StatusOr<RedisReply> reply) {
          bool last_reply;
          {
            absl::MutexLock lock(&state->mu);
            if (state->error.ok()) {
              state->error = reply.ok() ? AddPartition(*reply, state->sum)
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
