#include "services/rating/rate_limit_script.h"

#include <vector>

#include "absl/strings/str_cat.h"

namespace makegood::rating {

namespace {
constexpr char kScript[] = "rate_limit";
}  // namespace

ScriptCall BuildRateLimitCall(const store::KeySchema& keys,
                              const RateLimitRequest& request) {
  ScriptCall call;
  call.keys = {keys.ClientLimiterKey(request.client_id)};
  call.args = {absl::StrCat(request.interval_ms), absl::StrCat(request.burst),
               request.shadow ? "1" : "0", absl::StrCat(request.cells)};
  return call;
}

absl::StatusOr<RateLimitReply> ParseRateLimitReply(
    const redis::RedisReply& reply) {
  // {allowed, would_reject, remaining, retry_after_ms, reset_ms, granted}
  if (reply.type != redis::RedisReply::Type::kArray ||
      reply.elements.size() < 6) {
    return MalformedReply(kScript, "not an array of 6 integers");
  }
  const std::vector<redis::RedisReply>& e = reply.elements;
  int64_t v[6] = {};
  constexpr const char* kFields[6] = {"allowed",   "would_reject",
                                      "remaining", "retry_after_ms",
                                      "reset_ms",  "granted"};
  for (size_t i = 0; i < 6; ++i) {
    auto value = IntegerAt(e, i, kScript, kFields[i]);
    if (!value.ok()) return value.status();
    v[i] = *value;
  }
  return RateLimitReply{.allowed = v[0] != 0,
                        .would_reject = v[1] == 1,
                        .remaining = v[2],
                        .retry_after_ms = v[3],
                        .reset_ms = v[4],
                        .granted = v[5]};
}

}  // namespace makegood::rating
