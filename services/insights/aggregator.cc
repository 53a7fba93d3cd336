#include "services/insights/aggregator.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/core/log.h"
#include "services/insights/decision_event.h"
#include "services/redis/hiredis_client.h"

namespace makegood::insights {

using redis::RedisReply;

Aggregator::Aggregator(redis::RedisClient& redis, const store::KeySchema& keys,
                       const Clock& clock, AggregatorOptions options)
    : keys_(keys),
      clock_(clock),
      options_(std::move(options)),
      store_(redis, keys) {
  for (int p = 0; p < keys_.partitions(); ++p) {
    stream_keys_.push_back(store_.DecisionsKey(p));
  }
}

Aggregator::~Aggregator() { Stop(); }

absl::Status Aggregator::Start(redis::RedisOptions redis_options) {
  if (options_.consumer.empty() || options_.group.empty()) {
    return absl::InvalidArgumentError(
        "insights aggregator: consumer and group must not be empty");
  }
  if (options_.block <= absl::ZeroDuration() ||
      options_.retry_after < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "insights aggregator: block must be > 0 and retry_after >= 0");
  }
  if (options_.read_count < 1 || options_.max_in_flight < 1) {
    return absl::InvalidArgumentError(
        "insights aggregator: read_count and max_in_flight must be >= 1");
  }
  if (started_.exchange(true)) {
    return absl::FailedPreconditionError(
        "insights aggregator: already started");
  }
  // Blocking reads get a connection of their own, with a deadline beyond the
  // block time.
  redis_options.connections = 1;
  redis_options.command_timeout = options_.block + absl::Seconds(2);
  auto blocking = redis::HiredisClient::Start(std::move(redis_options));
  if (!blocking.ok()) return blocking.status();
  blocking_ = *std::move(blocking);
  thread_ = std::thread([this] { Run(); });
  Log(LogLevel::kInfo, "insights_aggregator_started",
      {{"consumer", options_.consumer},
       {"group", options_.group},
       {"partitions", keys_.partitions()}});
  return absl::OkStatus();
}

void Aggregator::Stop() {
  if (stopping_.exchange(true)) return;
  if (thread_.joinable()) thread_.join();
  blocking_.reset();
}

AggregatorStats Aggregator::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void Aggregator::Run() {
  // Backoff between attempts while Redis is unreachable or refuses; short
  // slices so Stop() is never held up.
  auto pause = [this](absl::Duration d) {
    for (absl::Duration slept; slept < d && !stopping_.load();
         slept += absl::Milliseconds(50)) {
      absl::SleepFor(absl::Milliseconds(50));
    }
  };
  bool groups_ready = false;
  bool own_pending_read = false;
  absl::Time next_reclaim = absl::InfinitePast();
  while (!stopping_.load()) {
    if (blocking_->ready_connections() == 0) {
      pause(absl::Milliseconds(50));
      continue;
    }
    if (!groups_ready) {
      groups_ready = EnsureGroups();
      if (!groups_ready) {
        pause(absl::Seconds(1));
        continue;
      }
    }
    if (!own_pending_read) {
      // After a restart under the same name: what this consumer had read but
      // not folded is folded now rather than after retry_after.
      ReadOwnPending();
      own_pending_read = true;
    }
    if (absl::Now() >= next_reclaim) {
      Reclaim();
      next_reclaim = absl::Now() +
                     std::max(options_.retry_after / 2, absl::Milliseconds(50));
    }
    std::vector<std::string> argv = {
        "XREADGROUP",   "GROUP",
        options_.group, options_.consumer,
        "COUNT",        absl::StrCat(options_.read_count),
        "BLOCK",        absl::StrCat(absl::ToInt64Milliseconds(options_.block)),
        "STREAMS"};
    for (const std::string& key : stream_keys_) argv.push_back(key);
    argv.insert(argv.end(), stream_keys_.size(), ">");
    auto reply = blocking_->CommandSync(std::move(argv));
    if (!reply.ok()) {
      // The streams or the group vanished (e.g. Redis restarted empty):
      // create them again.
      if (absl::StrContains(reply.status().message(), "NOGROUP")) {
        groups_ready = false;
      }
      pause(absl::Milliseconds(50));
      continue;
    }
    FoldAll(EntriesOf(*reply));
  }
}

bool Aggregator::EnsureGroups() {
  bool ready = true;
  for (const std::string& key : stream_keys_) {
    auto reply = blocking_->CommandSync(
        {"XGROUP", "CREATE", key, options_.group, "0", "MKSTREAM"});
    if (!reply.ok() &&
        !absl::StrContains(reply.status().message(), "BUSYGROUP")) {
      Log(LogLevel::kWarning, "insights_group_create_failed",
          {{"stream", key}, {"error", reply.status().ToString()}});
      ready = false;
    }
  }
  return ready;
}

void Aggregator::ReadOwnPending() {
  // Per stream, the id after which to read this consumer's pending entries;
  // a stream is done when nothing follows. Moving past entries whose fold
  // fails keeps this finite: those are retried by Reclaim.
  std::vector<std::string> after(stream_keys_.size(), "0");
  std::vector<bool> done(stream_keys_.size(), false);
  while (!stopping_.load()) {
    std::vector<std::string> argv = {
        "XREADGROUP",      "GROUP", options_.group,
        options_.consumer, "COUNT", absl::StrCat(options_.read_count),
        "STREAMS"};
    std::vector<size_t> asked;
    for (size_t p = 0; p < stream_keys_.size(); ++p) {
      if (!done[p]) {
        asked.push_back(p);
        argv.push_back(stream_keys_[p]);
      }
    }
    if (asked.empty()) return;
    for (size_t p : asked) argv.push_back(after[p]);
    auto reply = blocking_->CommandSync(std::move(argv));
    if (!reply.ok()) {
      if (absl::StrContains(reply.status().message(), "NOGROUP")) return;
      absl::SleepFor(absl::Milliseconds(50));
      continue;
    }
    std::vector<Entry> entries = EntriesOf(*reply);
    for (size_t p : asked) done[p] = true;
    for (const Entry& entry : entries) {
      const auto p = static_cast<size_t>(entry.partition);
      done[p] = false;
      after[p] = entry.id;  // Ascending within a stream.
    }
    FoldAll(std::move(entries));
  }
}

void Aggregator::Reclaim() {
  const std::string min_idle =
      absl::StrCat(absl::ToInt64Milliseconds(options_.retry_after));
  for (size_t p = 0; p < stream_keys_.size() && !stopping_.load(); ++p) {
    std::string cursor = "0-0";
    do {
      auto reply = blocking_->CommandSync(
          {"XAUTOCLAIM", stream_keys_[p], options_.group, options_.consumer,
           min_idle, cursor, "COUNT", absl::StrCat(options_.read_count)});
      // [next cursor, [[id, [k, v, ...]], ...], deleted ids]. Redis drops
      // deleted (trimmed) entries from the pending list itself.
      if (!reply.ok() || reply->elements.size() < 2) break;
      cursor = reply->elements[0].str;
      std::vector<Entry> entries;
      for (RedisReply& e : reply->elements[1].elements) {
        if (e.elements.size() < 2) continue;
        Entry entry;
        entry.partition = static_cast<int>(p);
        entry.id = std::move(e.elements[0].str);
        entry.fields = std::move(e.elements[1]);
        entries.push_back(std::move(entry));
      }
      if (!entries.empty()) {
        absl::MutexLock lock(&mu_);
        stats_.reclaimed += entries.size();
      }
      FoldAll(std::move(entries));
    } while (cursor != "0-0" && !cursor.empty() && !stopping_.load());
  }
}

std::vector<Aggregator::Entry> Aggregator::EntriesOf(
    const RedisReply& reply) const {
  // [[stream, [[id, [k, v, ...] or nil], ...]], ...], or nil on timeout.
  std::vector<Entry> entries;
  for (const RedisReply& stream : reply.elements) {
    if (stream.elements.size() < 2) continue;
    auto it = std::find(stream_keys_.begin(), stream_keys_.end(),
                        stream.elements[0].str);
    if (it == stream_keys_.end()) continue;
    const int partition = static_cast<int>(it - stream_keys_.begin());
    for (const RedisReply& e : stream.elements[1].elements) {
      if (e.elements.empty()) continue;
      Entry entry;
      entry.partition = partition;
      entry.id = e.elements[0].str;
      if (e.elements.size() >= 2) entry.fields = e.elements[1];
      entries.push_back(std::move(entry));
    }
  }
  return entries;
}

void Aggregator::FoldAll(std::vector<Entry> entries) {
  for (Entry& entry : entries) {
    {
      absl::MutexLock lock(&mu_);
      auto room = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return in_flight_ < options_.max_in_flight;
      };
      mu_.Await(absl::Condition(&room));
      ++in_flight_;
    }
    FoldOne(std::move(entry));
  }
  absl::MutexLock lock(&mu_);
  auto idle = [this]()
                  ABSL_SHARED_LOCKS_REQUIRED(mu_) { return in_flight_ == 0; };
  mu_.Await(absl::Condition(&idle));
}

void Aggregator::FoldOne(Entry entry) {
  absl::StatusOr<DecisionEvent> event = ParseDecisionEvent(entry.fields);
  const bool counted = event.ok();
  if (!counted) {
    Log(LogLevel::kWarning, "insights_bad_event",
        {{"partition", entry.partition},
         {"entry_id", entry.id},
         {"error", event.status().message()}});
  }
  auto done = [this, counted, partition = entry.partition,
               id = entry.id](absl::StatusOr<FoldResult> result) {
    if (!result.ok()) {
      Log(LogLevel::kWarning, "insights_fold_failed",
          {{"partition", partition},
           {"entry_id", id},
           {"error", result.status().ToString()}});
    }
    absl::MutexLock lock(&mu_);
    --in_flight_;
    if (!result.ok()) {
      ++stats_.failed;
    } else if (*result == FoldResult::kDuplicate) {
      ++stats_.duplicates;
    } else if (!counted) {
      ++stats_.skipped;
    } else if (*result == FoldResult::kStale) {
      ++stats_.stale;
    } else {
      ++stats_.folded;
    }
  };
  if (!counted) {
    // Acknowledged without counting: retrying would not make it parse.
    store_.Fold(entry.partition, options_.group, entry.id, 0, {}, "",
                clock_.Now(), std::move(done));
    return;
  }
  store_.Fold(entry.partition, options_.group, entry.id, event->at_ms,
              ContributionsOf(*event), event->currency, clock_.Now(),
              std::move(done));
}

}  // namespace makegood::insights
