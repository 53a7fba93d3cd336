#include "services/insights/aggregator.h"

#include <utility>

#include "services/core/log.h"
#include "services/insights/decision_event.h"

namespace makegood::insights {

using redis::RedisReply;

Aggregator::Aggregator(redis::RedisClient& redis, const store::KeySchema& keys,
                       const Clock& clock, AggregatorOptions options)
    : keys_(keys),
      clock_(clock),
      options_(std::move(options)),
      store_(redis, keys),
      redis_(redis) {}

Aggregator::~Aggregator() { Stop(); }

absl::Status Aggregator::Start(redis::RedisOptions redis_options) {
  notifications_ = streams::NotificationsOf(redis_options);
  return Start(
      streams::BlockingReadClient(std::move(redis_options), options_.block));
}

absl::Status Aggregator::Start(
    streams::StreamConsumer::ClientFactory blocking_client) {
  if (absl::Status opened = Open(std::move(blocking_client)); !opened.ok()) {
    return opened;
  }
  if (absl::Status started = consumer_->Start(); !started.ok()) {
    return started;
  }
  Log(LogLevel::kInfo, "insights_aggregator_started",
      {{"consumer", options_.consumer},
       {"group", options_.group},
       {"partitions", keys_.partitions()}});
  return absl::OkStatus();
}

absl::Status Aggregator::Open(
    streams::StreamConsumer::ClientFactory blocking_client) {
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
  if (consumer_ != nullptr) {
    return absl::FailedPreconditionError(
        "insights aggregator: already started");
  }
  streams::ConsumerOptions c;
  c.name = "insights";
  c.group = options_.group;
  c.consumer = options_.consumer;
  for (int p = 0; p < keys_.partitions(); ++p) {
    c.streams.push_back(keys_.DecisionsKey(p));
  }
  if (options_.share_partitions) {
    c.members_key = keys_.ConsumersKey(options_.group);
    c.member_ttl = options_.member_ttl;
  }
  c.block = options_.block;
  c.retry_after = options_.retry_after;
  c.read_count = options_.read_count;
  c.reclaim_count = options_.read_count;
  c.max_in_flight = options_.max_in_flight;
  c.max_deliveries = 0;  // Never dead-lettered.
  c.monotonic_now = options_.monotonic_now;
  c.sleep = options_.sleep;
  c.notifications = notifications_;
  consumer_ = std::make_unique<streams::StreamConsumer>(
      redis_, clock_, std::move(c), std::move(blocking_client),
      [this](streams::StreamEntry entry, streams::StreamConsumer::Done done) {
        FoldOne(std::move(entry), std::move(done));
      });
  return consumer_->Open();
}

void Aggregator::Poll() { consumer_->Poll(); }

void Aggregator::Stop() {
  // Folds in flight end with their reply or the client's command timeout.
  if (consumer_ != nullptr) consumer_->Stop(absl::InfiniteDuration());
}

AggregatorStats Aggregator::stats() const {
  AggregatorStats stats;
  {
    absl::MutexLock lock(&mu_);
    stats = stats_;
  }
  if (consumer_ != nullptr) stats.reclaimed = consumer_->stats().reclaimed;
  return stats;
}

void Aggregator::FoldOne(streams::StreamEntry entry,
                         streams::StreamConsumer::Done done_with_entry) {
  absl::StatusOr<DecisionEvent> event = ParseDecisionEvent(entry.fields);
  const bool counted = event.ok();
  if (!counted) {
    Log(LogLevel::kWarning, "insights_bad_event",
        {{"partition", entry.stream},
         {"entry_id", entry.id},
         {"error", event.status().message()}});
  }
  auto done = [this, counted, partition = entry.stream, id = entry.id,
               done_with_entry = std::move(done_with_entry)](
                  absl::StatusOr<FoldResult> result) mutable {
    if (!result.ok()) {
      Log(LogLevel::kWarning, "insights_fold_failed",
          {{"partition", partition},
           {"entry_id", id},
           {"error", result.status().ToString()}});
    }
    {
      absl::MutexLock lock(&mu_);
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
    }
    done_with_entry();
  };
  if (!counted) {
    // Acknowledged without counting: retrying would not make it parse.
    store_.Fold(entry.stream, options_.group, entry.id, 0, {}, "", clock_.Now(),
                std::move(done));
    return;
  }
  store_.Fold(entry.stream, options_.group, entry.id, event->at_ms,
              ContributionsOf(*event), event->currency, clock_.Now(),
              std::move(done));
}

}  // namespace makegood::insights
