#include "services/store/rating_record_store.h"

#include <algorithm>
#include <memory>
#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/store/read_hashes.h"

namespace makegood::store {
namespace {

// Whole milliseconds m with m >= t are exactly those with m >= CeilMillis(t)
// (and m < t exactly those with m < CeilMillis(t)).
int64_t CeilMillis(absl::Time t) {
  int64_t ms = absl::ToUnixMillis(t);
  return absl::FromUnixMillis(ms) < t ? ms + 1 : ms;
}

// Collects the partitions' answers; the last one to arrive merges them.
struct FanIn {
  FanIn(int partitions, int max,
        absl::AnyInvocable<void(absl::StatusOr<CommittedRatings>)> callback)
      : pending(partitions), max_records(max), done(std::move(callback)) {}

  absl::Mutex mu;
  int pending ABSL_GUARDED_BY(mu);
  absl::Status status ABSL_GUARDED_BY(mu);
  std::vector<CommittedRating> ratings ABSL_GUARDED_BY(mu);
  const int max_records;
  absl::AnyInvocable<void(absl::StatusOr<CommittedRatings>)> done;
};

// Adds the ratings of one partition whose record is still there.
absl::Status Collect(const IndexedRecords& read,
                     std::vector<CommittedRating>& into) {
  for (size_t r = 0; r < read.rows.size(); ++r) {
    if (!read.rows[r].has_value()) continue;  // Gone since.
    double score = 0;
    if (!absl::SimpleAtod(read.index[r].score, &score)) {
      return absl::InternalError("ratings by time: a score is not a number");
    }
    into.push_back({.rating_id = read.index[r].id,
                    .committed_ms = static_cast<int64_t>(score),
                    .record_pb = (*read.rows[r])[0]});
  }
  return absl::OkStatus();
}

// Takes one partition's answer; the last to arrive merges them and answers.
void Deliver(const std::shared_ptr<FanIn>& fan_in,
             absl::StatusOr<IndexedRecords> read) {
  std::vector<CommittedRating> merged;
  absl::Status status;
  {
    absl::MutexLock lock(&fan_in->mu);
    if (fan_in->status.ok()) {
      fan_in->status =
          read.ok() ? Collect(*read, fan_in->ratings) : read.status();
    }
    if (--fan_in->pending > 0) return;
    status = fan_in->status;
    merged = std::move(fan_in->ratings);
  }
  if (!status.ok()) {
    fan_in->done(status);
    return;
  }
  std::sort(merged.begin(), merged.end(),
            [](const CommittedRating& a, const CommittedRating& b) {
              return std::tie(a.committed_ms, a.rating_id) <
                     std::tie(b.committed_ms, b.rating_id);
            });
  CommittedRatings out;
  out.truncated = merged.size() > static_cast<size_t>(fan_in->max_records);
  if (out.truncated) merged.resize(fan_in->max_records);
  out.ratings = std::move(merged);
  fan_in->done(std::move(out));
}

}  // namespace

void RatingRecordStore::ListCommitted(
    absl::Time start, absl::Time end, int max_records,
    absl::AnyInvocable<void(absl::StatusOr<CommittedRatings>)> done) {
  max_records = std::max(max_records, 1);
  const int partitions = keys_.partitions();
  auto fan_in =
      std::make_shared<FanIn>(partitions, max_records, std::move(done));
  const std::string start_ms = absl::StrCat(CeilMillis(start));
  const std::string end_ms = absl::StrCat(CeilMillis(end));
  // One more than asked for, so that a full window shows as truncated.
  const std::string limit = absl::StrCat(max_records + 1);
  for (int p = 0; p < partitions; ++p) {
    // The index first, then the records it names (read_hashes.h).
    redis_.Command(
        {"ZRANGEBYSCORE", keys_.RatingsByTimeKey(p), start_ms,
         absl::StrCat("(", end_ms), "WITHSCORES", "LIMIT", "0", limit},
        [this, p, fan_in](absl::StatusOr<redis::RedisReply> index) {
          absl::StatusOr<std::vector<IndexEntry>> entries =
              index.ok()
                  ? IndexEntriesOf(*index, "ratings by time")
                  : absl::StatusOr<std::vector<IndexEntry>>(index.status());
          if (!entries.ok()) {
            Deliver(fan_in, entries.status());
            return;
          }
          ReadIndexed(
              redis_, *std::move(entries),
              [this, p](absl::string_view id) {
                return keys_.RatingKey(p, id);
              },
              {"pb"},
              [fan_in](absl::StatusOr<IndexedRecords> read) {
                Deliver(fan_in, std::move(read));
              });
        });
  }
}

}  // namespace makegood::store
