// File: services/goodwill/grant_goodwill_script.h
//
// The typed call of lua/grant_goodwill.lua, step 2 of a grant (in the
// member's partition): GrantRequest builds its KEYS (from store::KeySchema)
// and ARGV, and ParseGrantReply reads its answer. The script's positions are
// known here and nowhere else; Parse and ToReply, their inverses, let fakes
// in tests answer as the script would.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/redis/redis_reply.h"
#include "services/store/key_schema.h"

namespace makegood::goodwill {

// Every key of one grant; all in the member's partition (one hash slot).
struct GrantKeys {
  std::string member;
  std::string member_stats;
  std::string order;  // With no order, a key of the partition never touched.
  std::string refund;
  std::string member_refunds;
  std::string order_refunds;  // Likewise.
  std::string ledger;
  std::string ledger_balances;
  std::string outbox;
  std::string refund_events;
  std::string goodwill;  // The audit stream.
  std::string notifications;

  // The keys of granting `refund_id` to `member_id`, on `order_id` ("" for
  // none).
  static GrantKeys For(const store::KeySchema& schema,
                       absl::string_view member_id, absl::string_view order_id,
                       absl::string_view refund_id);
};

struct GrantRequest {
  GrantKeys keys;
  std::string fingerprint;  // Of the request's business fields.
  int64_t now_ms = 0;
  std::string refund_id;
  int64_t amount = 0;
  std::string currency;
  std::string instrument;     // store::InstrumentName.
  int64_t member_budget = 0;  // Over 30 days.
  int64_t day = 0;            // Days since the epoch (UTC).
  std::string agent_id;
  std::string caller;  // The principal.
  std::string reason;
  std::string note;
  std::string order_id;         // "" for none.
  std::string refund_bytes;     // The makegood.v1.Refund as granted.
  int64_t agent_remaining = 0;  // Of the agent's day, kept for replays.
  std::string member_id;

  std::vector<std::string> Keys() const;
  std::vector<std::string> Args() const;

  // The request whose Keys() and Args() these are; INVALID_ARGUMENT if they
  // are not a call of grant_goodwill.lua.
  static absl::StatusOr<GrantRequest> Parse(
      const std::vector<std::string>& keys,
      const std::vector<std::string>& args);
};

struct GrantReply {
  enum Outcome {
    kOk,            // Granted now.
    kReplay,        // Granted before, with the same request.
    kReused,        // The key's grant had another request.
    kNoMember,      // The member is not recorded.
    kNoOrder,       // The order is not recorded (in the member's partition).
    kNotOwner,      // The order is another member's.
    kMemberBudget,  // The member's 30 days have no room for it.
    kCeiling,       // It would refund more than the order paid.
  };

  Outcome outcome = kOk;
  int64_t member_remaining = 0;  // kOk, kReplay, kMemberBudget.
  // kReplay: the grant as first made, and the answer it had.
  std::string refund_bytes;
  int64_t agent_remaining = 0;
  int64_t grant_day = 0;
  // kCeiling: what the order has refunded and what it paid.
  int64_t refunded = 0;
  int64_t total = 0;

  // The reply as the script answers it.
  redis::RedisReply ToReply() const;
};

// INTERNAL naming grant_goodwill when `reply` is not one of its answers.
absl::StatusOr<GrantReply> ParseGrantReply(const redis::RedisReply& reply);

}  // namespace makegood::goodwill
