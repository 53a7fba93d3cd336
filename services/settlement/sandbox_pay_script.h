// File: services/settlement/sandbox_pay_script.h
//
// The sandbox card processor's books (lua/sandbox_pay.lua) as a typed call: a
// payout, a decline or a look-up for one refund becomes the script's KEYS and
// ARGV (BuildSandboxPayCall), and its reply one SandboxPayReply
// (ParseSandboxPayReply). Used by SandboxProvider; the books answer a refund
// id the same way for ever once it has an answer.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "services/redis/redis_reply.h"
#include "services/settlement/script_call.h"
#include "services/store/key_schema.h"

namespace makegood::settlement {

struct SandboxPayRequest {
  enum class Mode {
    kPay,      // Pay, unless the refund id has an answer already.
    kDecline,  // Decline, likewise.
    kLookup,   // The answer recorded, if any. Moves nothing.
  };

  Mode mode = Mode::kLookup;
  std::string member_id;  // Names the books of the member's partition.
  std::string refund_id;  // The idempotency key.
  int64_t amount_minor = 0;
  std::string reference;       // kPay: the new payout's reference.
  std::string decline_reason;  // kDecline.
};

// KEYS: the partition's sandbox books. ARGV as documented in
// lua/sandbox_pay.lua.
ScriptCall BuildSandboxPayCall(const store::KeySchema& keys,
                               const SandboxPayRequest& request);

enum class SandboxPayAnswer {
  kSucceeded,  // Paid (now or before): `reference`.
  kDeclined,   // Declined (now or before): `decline_reason`.
  kNotFound,   // kLookup: no answer recorded.
};

struct SandboxPayReply {
  SandboxPayAnswer answer = SandboxPayAnswer::kNotFound;
  std::string reference;       // kSucceeded.
  std::string decline_reason;  // kDeclined.
};

// INTERNAL naming sandbox_pay when `reply` is not one of the script's
// answers.
absl::StatusOr<SandboxPayReply> ParseSandboxPayReply(
    const redis::RedisReply& reply);

}  // namespace makegood::settlement
