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
  // Notifications on one Redis, under Sentinel and on a cluster; on the
  // first two, reads block while they are off.
  {
    auto notes = redis::KeyspaceNotifications::Start(options, feed->feed_keys_,
                                                     {"xadd"});
    if (!notes.ok()) return notes.status();
    feed->notes_ = *std::move(notes);
    feed->notes_->Watch(std::vector<bool>(feed->feed_keys_.size(), true));
  }
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
  if (notes_ != nullptr) notes_->Interrupt();
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
  // By notifications: the feeds that may have notices.
  std::vector<bool> unread(feed_keys_.size(), true);
  absl::Time next_full_read = absl::Now();
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
      // From a millisecond before: an entry added in the very millisecond
      // of TIME may have the id "<that ms>-0", which a read after "<that
      // ms>-0" would skip. A notice read twice costs a look, nothing more.
      last_ids.assign(feed_keys_.size(),
                      absl::StrCat(seconds * 1000 + micros / 1000 - 1, "-0"));
      NotifyAll();  // Anything that happened while we were not reading.
    }
    if (absl::Now() >= next_heartbeat) {
      NotifyAll();
      next_heartbeat = absl::Now() + heartbeat_;
    }
    // By notifications: only the feeds that may have notices, without
    // blocking; else one blocking read of every feed.
    const bool by_notes = streams::ReadByNotifications(*redis_, notes_.get());
    streams::StreamRead read{
        .head = {"XREAD", "COUNT", "1000"},
        .streams = {},
        .ids = {},
        .block = by_notes ? absl::ZeroDuration() : absl::Milliseconds(500)};
    std::vector<size_t> index;
    for (size_t f = 0; f < feed_keys_.size(); ++f) {
      if (by_notes && !unread[f]) continue;
      read.streams.push_back(feed_keys_[f]);
      read.ids.push_back(last_ids[f]);
      index.push_back(f);
    }
    if (index.empty()) {
      // Every feed read to its end: wait for a notice (reading them all
      // every 5 s anyway, and every 200 ms while notifications are off).
      if (absl::Now() >= next_full_read) {
        unread.assign(feed_keys_.size(), true);
        next_full_read =
            absl::Now() +
            (notes_->enabled() ? absl::Seconds(5) : absl::Milliseconds(200));
        continue;
      }
      const absl::Time until = std::min(next_full_read, next_heartbeat);
      for (int f :
           notes_->Wait(std::max(until - absl::Now(), absl::Milliseconds(1)))) {
        unread[static_cast<size_t>(f)] = true;
      }
      continue;
    }
    streams::StreamReadResult result = streams::ReadStreams(*redis_, read);
    if (result.status.ok()) {
      for (size_t f : index) unread[f] = false;
    }
    for (const streams::StreamEntry& entry : result.entries) {
      const size_t f = index[static_cast<size_t>(entry.stream)];
      last_ids[f] = entry.id;
      unread[f] = true;  // More may follow.
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
    if (!result.status.ok()) {
      absl::SleepFor(absl::Milliseconds(100));
    } else if (redis_->one_slot_per_command() && notes_ == nullptr) {
      // The reads did not block and nothing says when notices come: wait
      // 5 ms after a notice, else 10 ms doubling up to 200 ms.
      idle_wait = result.entries.empty()
                      ? std::clamp(idle_wait * 2, absl::Milliseconds(10),
                                   absl::Milliseconds(200))
                      : absl::Milliseconds(5);
      absl::SleepFor(idle_wait);
    }
  }
}

}  // namespace makegood::store
