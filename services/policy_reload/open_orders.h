// File: services/policy_reload/open_orders.h
//
// The reload guard for currencies: a policy reload that would stop serving
// a currency with open orders (unrated, still inside their rating window)
// is refused, because those orders could no longer be rated.
//
// Open orders are indexed per partition in KeySchema::OpenOrdersKey
// ("<CUR>:<order_id>" scored by the end of the order's rating window):
// record_delivery.lua adds an order, commit_rating.lua removes it when it
// is rated (one ZREM per rating), and record_delivery.lua trims ended
// windows. Counting reads every partition's members whose window has not
// ended (one ZRANGEBYSCORE per partition, sent at once; on a Redis Cluster
// each goes to its partition's primary), and runs only when a reload drops
// a currency.
//
// Example:
//   OpenOrders open(redis, keys);
//   PolicyWatcher watcher(path, active, clock, interval,
//                         DroppedCurrencyGuard(open, clock));
//
// Thread-safety: thread-safe; Count blocks its caller (never call it on the
// Redis I/O thread).
#pragma once

#include <cstdint>
#include <string>

#include "absl/container/btree_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/core/clock.h"
#include "services/policy_reload/policy_watcher.h"
#include "services/redis/redis_client.h"
#include "services/store/key_schema.h"

namespace makegood::policy_reload {

class OpenOrders {
 public:
  // Does not take ownership; both must outlive this.
  OpenOrders(redis::RedisClient& redis, const store::KeySchema& keys)
      : redis_(redis), keys_(keys) {}

  // Open orders per currency at `now`, over every partition (currencies
  // without any are absent). An error if any partition could not be read.
  absl::StatusOr<absl::btree_map<std::string, int64_t>> Count(
      absl::Time now) const;

 private:
  redis::RedisClient& redis_;
  const store::KeySchema& keys_;
};

// A ReloadGuard refusing a policy that stops serving a currency with open
// orders (the first such currency, by code, is named), or when they cannot
// be counted. A reload that drops no currency reads nothing.
ReloadGuard DroppedCurrencyGuard(const OpenOrders& open, const Clock& clock);

}  // namespace makegood::policy_reload
