#include "services/store/refund_feed.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/core/log.h"
#include "services/redis/redis_client_factory.h"
#include "services/streams/stream_read.h"

namespace makegood::store {

absl::StatusOr<std::unique_ptr<RefundFeed>> RefundFeed::Start(
    redis::RedisOptions options, const KeySchema& keys,
    absl::Duration heartbeat) {
  std::unique_ptr<RefundFeed> feed(new RefundFeed(keys, heartbeat));
  options.connections = 1;
  options.command_timeout = absl::Seconds(3);  // Beyond the 500 ms block.
  auto redis = redis::StartRedisClient(std::move(options));
  if (!redis.ok()) return redis.status();
  feed->redis_ = *std::move(redis);
  feed->thread_ = std::thread([f = feed.get()] { f->Run(); });
  return feed;
}

RefundFeed::RefundFeed(const KeySchema& keys, absl::Duration heartbeat)
    : keys_(keys), heartbeat_(heartbeat) {
  for (int p = 0; p < keys_.partitions(); ++p) {
    feed_keys_.push_back(keys_.RefundFeedKey(p));
  }
}

RefundFeed::~RefundFeed() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
}

uint64_t RefundFeed::Subscribe(const std::string& refund_id,
                               std::function<void()> on_change) {
  absl::MutexLock lock(&mu_);
  uint64_t id = next_id_++;
  subscribers_[refund_id].emplace_back(id, std::move(on_change));
  return id;
}

void RefundFeed::Unsubscribe(const std::string& refund_id,
                             uint64_t subscription) {
  absl::MutexLock lock(&mu_);
  auto it = subscribers_.find(refund_id);
  if (it == subscribers_.end()) return;
  auto& list = it->second;
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i].first == subscription) {
      list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
  }
  if (list.empty()) subscribers_.erase(it);
}

void RefundFeed::NotifyAll() {
  absl::MutexLock lock(&mu_);
  for (auto& [refund_id, list] : subscribers_) {
    for (auto& [id, callback] : list) callback();
  }
}

void RefundFeed::Run() {
  // Where each feed is read from: entries after the moment we start (Redis's
  // clock), so nothing between two reads is missed.
  std::vector<std::string> last_ids;
  absl::Time next_heartbeat = absl::Now() + heartbeat_;
  absl::Duration idle_wait;
  while (!stopping_.load()) {
    if (last_ids.empty()) {
      auto time = redis_->CommandSync({"TIME"});
      if (!time.ok() || time->elements.size() < 2) {
        absl::SleepFor(absl::Milliseconds(100));
        continue;
      }
      int64_t seconds = 0, micros = 0;
      if (!absl::SimpleAtoi(time->elements[0].str, &seconds) ||
          !absl::SimpleAtoi(time->elements[1].str, &micros)) {
        continue;
      }
      last_ids.assign(feed_keys_.size(),
                      absl::StrCat(seconds * 1000 + micros / 1000, "-0"));
      NotifyAll();  // Anything that happened while we were not reading.
    }
    streams::StreamReadResult read =
        streams::ReadStreams(*redis_, {.head = {"XREAD", "COUNT", "1000"},
                                       .streams = feed_keys_,
                                       .ids = last_ids,
                                       .block = absl::Milliseconds(500)});
    for (const streams::StreamEntry& entry : read.entries) {
      last_ids[static_cast<size_t>(entry.stream)] = entry.id;
      const auto& kv = entry.fields.elements;
      for (size_t i = 0; i + 1 < kv.size(); i += 2) {
        if (kv[i].str != "refund_id") continue;
        notices_.fetch_add(1);
        absl::MutexLock lock(&mu_);
        auto it = subscribers_.find(kv[i + 1].str);
        if (it == subscribers_.end()) break;
        for (auto& [id, callback] : it->second) callback();
        break;
      }
    }
    if (!read.status.ok()) {
      absl::SleepFor(absl::Milliseconds(100));
    } else if (redis_->one_slot_per_command()) {
      // The reads did not block (Redis Cluster): wait 5 ms after a notice,
      // else 10 ms doubling up to 200 ms.
      idle_wait = read.entries.empty()
                      ? std::clamp(idle_wait * 2, absl::Milliseconds(10),
                                   absl::Milliseconds(200))
                      : absl::Milliseconds(5);
      absl::SleepFor(idle_wait);
    }
    if (absl::Now() >= next_heartbeat) {
      NotifyAll();
      next_heartbeat = absl::Now() + heartbeat_;
    }
  }
}

}  // namespace makegood::store
