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
               request.shadow ? "1" : "0"};
  return call;
}

absl::StatusOr<RateLimitReply> ParseRateLimitReply(
    const redis::RedisReply& reply) {
  // {allowed, would_reject, remaining, retry_after_ms, reset_ms}
  if (reply.type != redis::RedisReply::Type::kArray ||
      reply.elements.size() < 5) {
    return MalformedReply(kScript, "not an array of 5 integers");
  }
  const std::vector<redis::RedisReply>& e = reply.elements;
  int64_t v[5] = {};
  constexpr const char* kFields[5] = {"allowed", "would_reject", "remaining",
                                      "retry_after_ms", "reset_ms"};
  for (size_t i = 0; i < 5; ++i) {
    auto value = IntegerAt(e, i, kScript, kFields[i]);
    if (!value.ok()) return value.status();
    v[i] = *value;
  }
  return RateLimitReply{.allowed = v[0] != 0,
                        .would_reject = v[1] == 1,
                        .remaining = v[2],
                        .retry_after_ms = v[3],
                        .reset_ms = v[4]};
}

}  // namespace makegood::rating
