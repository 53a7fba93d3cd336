// File: services/feedback/file_appeal_script.h
//
// The typed call of lua/file_appeal.lua (AppealFeedback, in the rating's
// partition): FileAppealRequest builds its KEYS (from store::KeySchema) and
// ARGV, ParseFileAppealReply reads its answer. The script's positions are
// known here and nowhere else; Parse and ToReply, their inverses, let fakes
// in tests answer as the script would.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "makegood/v1/feedback_service.pb.h"
#include "services/feedback/appeal_ids.h"
#include "services/redis/redis_reply.h"
#include "services/store/key_schema.h"

namespace makegood::feedback {

struct FileAppealRequest {
  // KEYS, all in the rating's partition.
  std::string rating_key;
  std::string appeal_key;
  std::string appeal_events_key;
  std::string tasks_key;
  std::string refund_key;  // The rating's refund (an old abuse mark).
  // ARGV.
  std::string appeal_id;
  std::string idempotency_key;
  std::string fingerprint;  // Of the request's business fields.
  Partner partner;          // Who files it (from the principal).
  std::string caller;       // The principal id.
  std::string reason;
  std::string comment;
  int64_t now_ms = 0;
  std::string rating_id;

  // The keys of appeal `id` (named `appeal_id`).
  void SetKeys(const store::KeySchema& keys, const AppealId& id);

  std::vector<std::string> Keys() const;
  std::vector<std::string> Args() const;

  // The request whose Keys() and Args() these are; INVALID_ARGUMENT if they
  // are not a call of file_appeal.lua.
  static absl::StatusOr<FileAppealRequest> Parse(
      const std::vector<std::string>& keys,
      const std::vector<std::string>& args);
};

struct FileAppealReply {
  enum Outcome {
    kOk,          // Filed now.
    kReplay,      // Filed before under this key, with the same request.
    kExists,      // Filed before under another key.
    kReused,      // This key filed it with another request.
    kNoFeedback,  // The rating has no feedback with this appeal id.
    kNotTarget,   // The feedback is about another store or courier.
    kReversed,    // The feedback is reversed already (reversed_by says how).
  };

  Outcome outcome = kOk;
  makegood::v1::Appeal appeal;  // kOk, kReplay, kExists.
  makegood::v1::FeedbackReversal reversed_by =
      makegood::v1::FEEDBACK_REVERSAL_UNSPECIFIED;  // kReversed.

  // The reply as the script answers it.
  redis::RedisReply ToReply() const;
};

// INTERNAL naming file_appeal when `reply` is not one of its answers.
absl::StatusOr<FileAppealReply> ParseFileAppealReply(
    const redis::RedisReply& reply);

}  // namespace makegood::feedback
