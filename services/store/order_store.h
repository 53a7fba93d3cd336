// File: services/store/order_store.h
//
// Delivered orders in Redis (see key_schema.h). An order lives in its member's
// partition; a small owner record in the order id's partition maps an order id
// to its member, so orders can be found by id alone and never move between
// members.
//
// Thread-safety: thread-safe; callbacks run on the Redis I/O thread.
#pragma once

#include <cstdint>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "makegood/v1/order.pb.h"
#include "services/core/clock.h"
#include "services/redis/redis_client.h"
#include "services/store/key_schema.h"

namespace makegood::store {

struct StoredOrder {
  makegood::v1::Order order;
  int64_t refunded_minor = 0;
  bool rated = false;
};

class OrderStore {
 public:
  // Does not take ownership; all three must outlive the store.
  // `retention_day`: how long a day of the retention windows lasts (a new
  // order is a reorder for the member's troubles, services/retention/); a
  // day but in simulations.
  OrderStore(redis::RedisClient& redis, const KeySchema& keys,
             const Clock& clock, absl::Duration retention_day = absl::Hours(24))
      : redis_(redis),
        keys_(keys),
        clock_(clock),
        retention_day_(retention_day) {}

  // Stores a validated order, open for rating for `rating_window` after its
  // delivery (the index KeySchema::OpenOrdersKey keeps it until then or
  // until it is rated). Results: CREATED, UPDATED or UNCHANGED. The caller
  // checks that the policy serves the order's currency.
  // Errors: FAILED_PRECONDITION if the order id belongs to another member, or
  // if the order was rated and a money field differs; UNAVAILABLE if Redis is
  // unreachable (nothing, or only the idempotent owner record, was written;
  // retrying is safe).
  void RecordDelivery(
      const makegood::v1::Order& order, absl::Duration rating_window,
      absl::AnyInvocable<void(absl::StatusOr<makegood::v1::WriteResult>)> done);

  // NOT_FOUND if no order has that id.
  void GetOrder(std::string order_id,
                absl::AnyInvocable<void(absl::StatusOr<StoredOrder>)> done);

  // The fields whose change is refused once an order has been rated, as one
  // canonical string (lines sorted by id).
  static std::string MoneyFingerprint(const makegood::v1::Order& order);

 private:
  redis::RedisClient& redis_;
  const KeySchema& keys_;
  const Clock& clock_;
  const absl::Duration retention_day_;
};

}  // namespace makegood::store
