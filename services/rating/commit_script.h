// File: services/rating/commit_script.h
//
// Round trip 2 of SubmitRating (lua/commit_rating.lua) as a typed call: a
// decided rating becomes the script's KEYS and ARGV (BuildCommitCall), and
// its reply one CommitReply (ParseCommitReply). What each answer asks of the
// caller is in rating_flow.h.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/policy/decision.h"
#include "services/rating/rating_ids.h"
#include "services/rating/script_call.h"
#include "services/redis/redis_reply.h"
#include "services/store/key_schema.h"

namespace makegood::rating {

struct CommitRequest {
  RatingIds ids;  // Idempotency record, rating, refund.
  std::string member_id;
  std::string order_id;
  std::string token;          // The claim admit made.
  std::string stats_version;  // The member stats version the decision read.
  absl::Time now;             // Business clock.
  std::string response;       // SubmitRatingResponse bytes, answered later.
  absl::Duration idempotency_ttl;
  std::string rating_record;  // storage RatingRecord bytes.

  // The refund granted now; refund_minor 0 when none.
  int64_t refund_minor = 0;
  bool money = false;  // Counts toward the order's ceiling (not a coupon).
  std::string refund;  // v1.Refund bytes.
  std::string instrument;
  // The order's currency, the refund's too: the member's money history and
  // instant budget are kept per currency.
  std::string currency;
  std::string payment_reference;  // The order's, for card refunds.

  bool low_rating = false;
  // The instant budget after this decision, stored when store_budget.
  bool store_budget = false;
  int64_t budget_balance_minor = 0;
  absl::Time budget_as_of;
  std::vector<std::string> expired_stats_fields;
  int64_t coupon_minor = 0;  // Coupon value granted now.
  std::vector<std::string> replaced_line_ids;
  std::string actor;  // e.g. "policy:default@3f2a9c01".
  std::vector<std::string> reason_codes;
  // Field/value pairs of the decision event, flat (decision_event_fields.h).
  std::vector<std::string> decision_event;
  std::vector<policy::FollowUp> follow_ups;
  // The trouble the rating is (retention/trouble.h), tracked from now; ""
  // when it is none.
  std::string trouble_record;
  std::string trouble_due_member;
  int64_t trouble_first_close_ms = 0;
  // The experiment arm that decided ("" outside experiments), and whether
  // the rating was made good at once: tallied per arm.
  std::string arm;
  bool made_good_at_once = false;
};

// KEYS and ARGV as documented in lua/commit_rating.lua.
ScriptCall BuildCommitCall(const store::KeySchema& keys, CommitRequest request);

// The script's name for a follow-up kind ("courier_feedback", ...).
const char* FollowUpKindName(policy::FollowUpKind kind);

enum class CommitAnswer {
  kOk,         // Committed.
  kStale,      // The member's stats changed since admit: decide again.
  kLostClaim,  // The claim lapsed or was taken over.
  kDone,       // The scope is committed already: admit again.
  kCeiling,    // Refused by the order's ceiling or a negative budget.
};

struct CommitReply {
  CommitAnswer answer = CommitAnswer::kOk;
  // kCeiling: what the order had refunded and its total.
  int64_t refunded_minor = 0;
  int64_t total_minor = 0;
};

// INTERNAL naming commit_rating when `reply` is not one of the script's
// answers.
absl::StatusOr<CommitReply> ParseCommitReply(const redis::RedisReply& reply);

}  // namespace makegood::rating
