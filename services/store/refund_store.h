// File: services/store/refund_store.h
//
// Reads refunds written by the rating path and moved on by settlement (see
// key_schema.h): one by id, or a page of a member's or an order's refunds,
// newest first, and the append-only events of one refund.
//
// A refund is stored as its protobuf as created plus hash fields settlement
// changes (state, state_reason, updated_at_ms, instrument); readers overlay
// those on the protobuf, so Lua scripts never have to edit protobuf bytes.
//
// Thread-safety: thread-safe; callbacks run on the Redis I/O thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "makegood/v1/refund.pb.h"
#include "services/store/key_schema.h"
#include "services/store/redis_client.h"

namespace makegood::store {

// One transition of a refund, from its events stream.
struct RefundEvent {
  std::string id;  // Stream entry id; events are ordered by it.
  int64_t seq = 0;
  makegood::v1::RefundState from = makegood::v1::REFUND_STATE_UNSPECIFIED;
  makegood::v1::RefundState to = makegood::v1::REFUND_STATE_UNSPECIFIED;
  std::string actor;   // e.g. "policy:default@3f2a9c01", "settlement:w1".
  std::string reason;  // e.g. "sent_to_wallet", "card_declined".
  int64_t at_ms = 0;
  std::string instrument;  // Set when the transition changed it.
};

// A refund with the id of its latest event.
struct WatchedRefund {
  makegood::v1::Refund refund;
  std::string last_event_id;
};

makegood::v1::RefundState RefundStateFromName(absl::string_view name);
makegood::v1::Instrument InstrumentFromName(absl::string_view name);
// The stored name of an instrument ("original_payment", "wallet", "coupon";
// "" for UNSPECIFIED), as the scripts and the ledger accounts use it.
absl::string_view InstrumentName(makegood::v1::Instrument instrument);
// True for SUCCEEDED, FAILED, NEEDS_ATTENTION and REVERSED.
bool IsFinalRefundState(makegood::v1::RefundState state);

// Applies one event to a refund (state, reason, time, instrument).
void ApplyRefundEvent(const RefundEvent& event, makegood::v1::Refund& refund);

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

  // The refund and the id of its latest event, read atomically.
  void GetForWatch(
      int partition, std::string refund_id,
      absl::AnyInvocable<void(absl::StatusOr<WatchedRefund>)> done);

  // Events of a refund after entry id `after` ("0-0": all), oldest first, at
  // most `limit`.
  void GetEvents(
      int partition, std::string refund_id, std::string after, int limit,
      absl::AnyInvocable<void(absl::StatusOr<std::vector<RefundEvent>>)> done);

  struct AbuseMark {
    int feedback_reversed = 0;
    bool newly_marked = false;
    bool refund_reversed = false;
  };
  // A correction (see lua/mark_abusive.lua). NOT_FOUND if the refund does
  // not exist.
  void MarkAbusive(int partition, std::string refund_id, std::string actor,
                   std::string reason, bool reverse_refund, absl::Time now,
                   absl::AnyInvocable<void(absl::StatusOr<AbuseMark>)> done);

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
