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
#include "services/redis/redis_client.h"
#include "services/store/key_schema.h"
#include "services/store/refund_page_script.h"

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

// A refund waiting for an operator.
struct AttentionRefund {
  makegood::v1::Refund refund;
  int64_t since_ms = 0;  // When settlement set it aside.
  std::string provider;  // Empty if it was never sent to one.
  int64_t attempts = 0;  // Times a worker took it.
};

struct AttentionPage {
  std::vector<AttentionRefund> refunds;
  // Where the next page starts; empty when there is none.
  std::string next_ms;
  std::string next_id;
  int64_t total = 0;  // In every partition's index.
};

class RefundStore {
 public:
  // Does not take ownership; both must outlive the store.
  RefundStore(redis::RedisClient& redis, const KeySchema& keys)
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
    // The refund was not paid yet: it is reversed as soon as it succeeds as
    // wallet credit or coupon (settle_finish.lua).
    bool reversal_pending = false;
  };
  // A correction (see lua/mark_abusive.lua). NOT_FOUND if the refund does
  // not exist.
  void MarkAbusive(int partition, std::string refund_id, std::string actor,
                   std::string reason, bool reverse_refund, absl::Time now,
                   absl::AnyInvocable<void(absl::StatusOr<AbuseMark>)> done);

  // Operators. Refunds settlement set aside (NEEDS_ATTENTION), oldest
  // first, from every partition's attention index (`…:attention`, scored by
  // when each was set aside), after the cursor (cursor_ms, cursor_id) — the
  // first page has cursor_ms "-inf" and cursor_id "".
  void ListNeedingAttention(
      std::string cursor_ms, std::string cursor_id, int page_size,
      absl::AnyInvocable<void(absl::StatusOr<AttentionPage>)> done);

  enum class RedriveOutcome {
    // NEEDS_ATTENTION -> ACCEPTED with a new outbox entry, or an ACCEPTED /
    // SETTLING refund no outbox entry carried re-enqueued.
    kRedriven,
    // Already in settlement (ACCEPTED/SETTLING, an entry carries it).
    kInProgress,
  };
  // Sends a NEEDS_ATTENTION refund back to settlement (lua/redrive_refund.lua):
  // the worker looks the payout up at the provider it was sent to and pays
  // only if that provider never saw it. NOT_FOUND if the refund does not
  // exist; FAILED_PRECONDITION if it is SUCCEEDED, FAILED or REVERSED.
  void Redrive(int partition, std::string refund_id, std::string actor,
               std::string reason, absl::Time now,
               absl::AnyInvocable<void(absl::StatusOr<RedriveOutcome>)> done);

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
  void ListIndex(RefundPageRequest request,
                 absl::AnyInvocable<void(absl::StatusOr<RefundPage>)> done);

  redis::RedisClient& redis_;
  const KeySchema& keys_;
};

}  // namespace makegood::store
