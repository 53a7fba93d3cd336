// File: services/rating/admit_script.h
//
// Round trip 1 of SubmitRating (lua/admit_rating.lua) as a typed call: the
// request becomes the script's KEYS and ARGV (BuildAdmitCall), and its reply
// one AdmitReply (ParseAdmitReply).
//
// Example:
//   ScriptCall call = BuildAdmitCall(keys, request);
//   redis.Eval(scripts::kAdmitRating, std::move(call.keys),
//              std::move(call.args), [](absl::StatusOr<RedisReply> r) {
//                if (!r.ok()) ...;
//                absl::StatusOr<AdmitReply> admit = ParseAdmitReply(*r);
//                switch (admit->answer) { case AdmitAnswer::kFresh: ... }
//              });
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/rating/rating_ids.h"
#include "services/rating/script_call.h"
#include "services/redis/redis_reply.h"
#include "services/store/key_schema.h"

namespace makegood::rating {

struct AdmitRequest {
  RatingIds ids;  // The scope's partition, idempotency record and rating.
  std::string member_id;
  std::string order_id;
  std::string fingerprint;  // RequestFingerprint of the request.
  std::string token;        // This attempt's claim token.
  absl::Duration claim_lease;
  absl::Time now;  // Business clock.
  // The member's GCRA limit; interval 0 means no limit.
  double limiter_interval_ms = 0;
  int64_t limiter_burst = 0;
  bool limiter_shadow = false;
  absl::Duration rating_window;
  std::vector<std::string> rated_line_ids;
};

// KEYS: idempotency record, member, member stats, order, member limiter,
// rating record. ARGV as documented in lua/admit_rating.lua.
ScriptCall BuildAdmitCall(const store::KeySchema& keys,
                          const AdmitRequest& request);

enum class AdmitAnswer {
  kReplay,        // The key was answered: `stored` is the response bytes.
  kRecorded,      // The scope's rating is committed: `stored` is its record.
  kReused,        // The key was used with another request.
  kInFlight,      // Another claim holds the key.
  kLimited,       // The member's limit refused: retry_after_ms, reset_ms.
  kNoOrder,       // The order is not in the member's partition.
  kNotOwner,      // The order belongs to another member.
  kNoMember,      // The member is not recorded.
  kWindowClosed,  // The rating window of the order has closed.
  kUnknownLine,   // A rated line is not in the order: unknown_line_id.
  kFresh,         // Claimed: the snapshot fields below are set.
};

struct AdmitReply {
  AdmitAnswer answer = AdmitAnswer::kFresh;
  std::string stored;           // kReplay, kRecorded.
  std::string unknown_line_id;  // kUnknownLine.
  int64_t retry_after_ms = 0;   // kLimited.
  int64_t reset_ms = 0;         // kLimited, kFresh.
  // kFresh: what the decision reads, as stored (snapshot.h parses them).
  redis::RedisReply order_pb;
  redis::RedisReply order_refunded_minor;
  redis::RedisReply member_pb;
  redis::RedisReply stats;    // Flat HGETALL of the member stats.
  int64_t remaining = -1;     // The member's limit; -1 when not checked.
  bool would_reject = false;  // The limit would have refused (shadow mode).
  int64_t coupon_granted_minor = 0;
  std::vector<std::string> replaced_line_ids;
};

// INTERNAL naming admit_rating when `reply` is not one of the script's
// answers.
absl::StatusOr<AdmitReply> ParseAdmitReply(redis::RedisReply reply);

}  // namespace makegood::rating
