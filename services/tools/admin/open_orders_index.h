// File: services/tools/admin/open_orders_index.h
//
// makegood_admin index-open-orders --policy=FILE: puts every unrated order
// still inside its rating window into its partition's open orders
// (KeySchema::OpenOrdersKey), as record_delivery.lua does for orders it
// records. Orders recorded before the index existed are otherwise missing
// from it, and a policy reload would not see them (policy_reload/
// open_orders.h). The window is the policy's in the order's currency;
// orders in a currency the policy does not serve are counted and left out.
// Idempotent (ZADD of the same score); safe while servers run: an order
// rated meanwhile may be added back and stays until its window ends, which
// only makes a reload more careful.
//
// Thread-safety: runs on the caller's thread.
#pragma once

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "services/store/key_schema.h"
#include "services/tools/admin/blocking_redis.h"
#include "services/tools/admin/options.h"

namespace makegood::admin {

// The JSON summary: orders seen, indexed, rated, closed (window ended),
// unserved; an error when Redis or the policy could not be read.
absl::StatusOr<nlohmann::ordered_json> IndexOpenOrders(
    BlockingRedis& redis, const store::KeySchema& keys, const Options& options);

}  // namespace makegood::admin
