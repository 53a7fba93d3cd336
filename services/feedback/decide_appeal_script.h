// File: services/feedback/decide_appeal_script.h
//
// The typed call of lua/decide_appeal.lua (DecideAppeal, in the rating's
// partition): DecideAppealRequest builds its KEYS (from store::KeySchema)
// and ARGV, ParseDecideAppealReply reads its answer. The script's positions
// are known here and nowhere else; Parse and ToReply, their inverses, let
// fakes in tests answer as the script would.
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

struct DecideAppealRequest {
  // KEYS, all in the rating's partition.
  std::string appeal_key;
  std::string appeal_events_key;
  std::string rating_key;
  std::string feedback_key;
  std::string refund_key;  // The rating's refund (an old abuse mark).
  // ARGV.
  std::string idempotency_key;
  std::string fingerprint;  // Of the request's business fields.
  std::string decision;     // DecisionStateName: "upheld" or "rejected".
  std::string actor;        // "agent:<agent_id>".
  std::string caller;       // The principal id.
  std::string reason;
  int64_t now_ms = 0;

  // The keys of appeal `appeal_id`, whose parts are `id`.
  void SetKeys(const store::KeySchema& keys, absl::string_view appeal_id,
               const AppealId& id);

  std::vector<std::string> Keys() const;
  std::vector<std::string> Args() const;

  // The request whose Keys() and Args() these are; INVALID_ARGUMENT if they
  // are not a call of decide_appeal.lua.
  static absl::StatusOr<DecideAppealRequest> Parse(
      const std::vector<std::string>& keys,
      const std::vector<std::string>& args);
};

struct DecideAppealReply {
  enum Outcome {
    kOk,        // Decided now.
    kReplay,    // Decided by this key before, with the same request.
    kAlready,   // Decided before, the same way, under another key.
    kConflict,  // Decided before the other way.
    kMissing,   // No such appeal.
    kReused,    // This key decided it with another request.
  };

  Outcome outcome = kOk;
  bool reversed_now = false;    // kOk: this call wrote the reversal event.
  makegood::v1::Appeal appeal;  // kOk, kReplay, kAlready, kConflict.

  // The reply as the script answers it.
  redis::RedisReply ToReply() const;
};

// INTERNAL naming decide_appeal when `reply` is not one of its answers.
absl::StatusOr<DecideAppealReply> ParseDecideAppealReply(
    const redis::RedisReply& reply);

}  // namespace makegood::feedback
