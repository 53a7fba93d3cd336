// File: services/store/refund_store.h
//
// Reads refunds written by the rating path (see key_schema.h): one by id, or
// a page of a member's or an order's refunds, newest first.
//
// Thread-safety: thread-safe; callbacks run on the Redis I/O thread.
#pragma once

#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "makegood/v1/refund.pb.h"
#include "services/store/key_schema.h"
#include "services/store/redis_client.h"

namespace makegood::store {

struct RefundPage {
  std::vector<makegood::v1::Refund> refunds;
  // Where the next page starts; empty when there is none.
  std::string next_score;
  std::string next_id;
};

class RefundStore {
 public:
  // Does not take ownership; both must outlive the store.
  RefundStore(RedisClient& redis, const KeySchema& keys)
      : redis_(redis), keys_(keys) {}

  // `partition` comes from the refund id. NOT_FOUND if absent.
  void GetRefund(
      int partition, std::string refund_id,
      absl::AnyInvocable<void(absl::StatusOr<makegood::v1::Refund>)> done);

  // A page of a member's refunds after (cursor_score, cursor_id); the first
  // page has cursor_score "+inf" and cursor_id "".
  void ListByMember(std::string member_id, std::string cursor_score,
                    std::string cursor_id, int page_size,
                    absl::AnyInvocable<void(absl::StatusOr<RefundPage>)> done);

  // Same for an order (found through its owner record). NOT_FOUND if the
  // order is not recorded.
  void ListByOrder(std::string order_id, std::string cursor_score,
                   std::string cursor_id, int page_size,
                   absl::AnyInvocable<void(absl::StatusOr<RefundPage>)> done);

 private:
  void ListIndex(int partition, std::string index_key, std::string cursor_score,
                 std::string cursor_id, int page_size,
                 absl::AnyInvocable<void(absl::StatusOr<RefundPage>)> done);

  RedisClient& redis_;
  const KeySchema& keys_;
};

}  // namespace makegood::store
