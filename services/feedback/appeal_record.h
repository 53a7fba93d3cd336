// File: services/feedback/appeal_record.h
//
// An appeal as its hash keeps it (mg:{p<N>}:appeal:<appeal_id>) and as the
// API shows it (makegood.v1.Appeal), and the names the scripts use for
// states, kinds and reversals. The hash fields:
//   appeal_id, state (open/upheld/rejected), kind (store_feedback /
//   courier_feedback), target_id, rating_id, order_id, partner (the filing
//   principal), reason, comment, created_at_ms, seq (audit events so far),
//   file_key / file_fp (the filing's idempotency key and fingerprint), and
//   once decided: decided_by ("agent:<id>"), decider (the principal),
//   decision_reason, decided_at_ms, decision_key / decision_fp, reversed_by
//   (the feedback's reversal as the rating records it: appeal_upheld or
//   claim_abusive).
// Its audit trail (…:events) has per step: seq, from, to, actor, caller,
// reason, key, at_ms.
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "makegood/v1/feedback_service.pb.h"
#include "services/redis/redis_reply.h"

namespace makegood::feedback {

// "open", "upheld", "rejected"; "" for UNSPECIFIED.
absl::string_view AppealStateName(makegood::v1::AppealState state);
// The state a decision leads to: "upheld" or "rejected" ("" for none).
absl::string_view DecisionStateName(makegood::v1::AppealDecision decision);
// "appeal_upheld", "claim_abusive"; "" for UNSPECIFIED.
absl::string_view ReversalName(makegood::v1::FeedbackReversal reversal);
makegood::v1::FeedbackReversal ReversalOf(absl::string_view name);

// The appeal of a hash's field/value list (HGETALL, from `first`, `count`
// elements); INTERNAL naming `script` if it is malformed.
absl::StatusOr<makegood::v1::Appeal> AppealFromFields(
    const std::vector<redis::RedisReply>& elements, size_t first, size_t count,
    absl::string_view script);

// The field/value list of the hash that holds `appeal` (its inverse, for
// fakes in tests).
std::vector<redis::RedisReply> AppealToFields(
    const makegood::v1::Appeal& appeal);

// One audit event from an XRANGE entry ({id, {field, value, ...}}); INTERNAL
// naming `script` if malformed.
absl::StatusOr<makegood::v1::AppealEvent> AppealEventFromEntry(
    const redis::RedisReply& entry, absl::string_view script);

}  // namespace makegood::feedback
