// File: services/store/read_refund_script.h
//
// The typed call of lua/read_refund.lua: a refund as it stands and the id of
// its latest event, read at one instant (BuildReadRefundCall,
// ParseReadRefundReply), so a watcher follows the events from exactly there.
//
// Pure functions; thread-safe.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "services/redis/redis_reply.h"
#include "services/store/key_schema.h"
#include "services/store/script_call.h"

namespace makegood::store {

// A refund hash's fields that readers need: the protobuf as created and the
// fields settlement keeps current, to overlay on it (refund_store.h).
struct StoredRefund {
  std::string pb;
  std::string state;  // e.g. "SETTLING"; "" if never set.
  std::string state_reason;
  std::string updated_at_ms;
  std::string instrument;  // e.g. "wallet"; "" if never changed.
};

struct ReadRefundRequest {
  int partition = 0;  // The refund id's.
  std::string refund_id;
};

// KEYS: the refund hash, its events stream. No ARGV.
ScriptCall BuildReadRefundCall(const KeySchema& keys,
                               const ReadRefundRequest& request);

struct ReadRefundReply {
  bool found = false;
  StoredRefund refund;        // found.
  std::string last_event_id;  // found: "0-0" if it has no events.
};

// INTERNAL naming read_refund unless `reply` is {} or six texts.
absl::StatusOr<ReadRefundReply> ParseReadRefundReply(
    const redis::RedisReply& reply);

}  // namespace makegood::store
