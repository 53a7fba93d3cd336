// File: services/rating/rate_limit_script.h
//
// One GCRA limit on a key of its own (lua/rate_limit.lua), e.g. the calling
// client's, as a typed call: BuildRateLimitCall and ParseRateLimitReply.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "services/rating/script_call.h"
#include "services/redis/redis_reply.h"
#include "services/store/key_schema.h"

namespace makegood::rating {

struct RateLimitRequest {
  std::string client_id;  // Whose limiter (KeySchema::ClientLimiterKey).
  double interval_ms = 0;
  int64_t burst = 0;
  bool shadow = false;
  // Requests to take at once: a server's lease of its client's requests
  // (client_leases.h). Fewer are granted when fewer fit.
  int64_t cells = 1;
};

ScriptCall BuildRateLimitCall(const store::KeySchema& keys,
                              const RateLimitRequest& request);

struct RateLimitReply {
  bool allowed = false;
  bool would_reject = false;  // Refused in shadow mode (allowed anyway).
  int64_t remaining = 0;
  int64_t retry_after_ms = 0;
  int64_t reset_ms = 0;
  int64_t granted = 0;  // Cells taken: 0 when refused.
};

// INTERNAL naming rate_limit unless `reply` is the script's six integers.
absl::StatusOr<RateLimitReply> ParseRateLimitReply(
    const redis::RedisReply& reply);

}  // namespace makegood::rating
