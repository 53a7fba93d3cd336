// File: services/feedback/read_appeal_script.h
//
// The typed call of lua/read_appeal.lua (GetAppeal): ReadAppealRequest
// builds its KEYS (from store::KeySchema) and ARGV, ParseReadAppealReply
// reads its answer: the appeal, with the feedback's reversal as the rating
// records it now (so an abuse correction made after the decision shows), and
// optionally its audit trail.
//
// Thread-safety: plain values.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "makegood/v1/feedback_service.pb.h"
#include "services/feedback/appeal_ids.h"
#include "services/redis/redis_reply.h"
#include "services/store/key_schema.h"

namespace makegood::feedback {

struct ReadAppealRequest {
  // KEYS, all in the rating's partition.
  std::string appeal_key;
  std::string rating_key;
  std::string appeal_events_key;
  std::string refund_key;  // The rating's refund (an old abuse mark).
  // ARGV.
  std::string appeal_id;
  bool include_events = false;

  // The keys of appeal `appeal_id` (set first), whose parts are `id`.
  void SetKeys(const store::KeySchema& keys, const AppealId& id);

  std::vector<std::string> Keys() const;
  std::vector<std::string> Args() const;
};

struct ReadAppealReply {
  bool found = false;
  makegood::v1::Appeal appeal;  // reversed_by as the rating records it.
  std::vector<makegood::v1::AppealEvent> events;  // Oldest first.
};

// INTERNAL naming read_appeal when `reply` is not one of its answers.
absl::StatusOr<ReadAppealReply> ParseReadAppealReply(
    const redis::RedisReply& reply);

}  // namespace makegood::feedback
