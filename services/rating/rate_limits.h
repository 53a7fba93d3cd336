// File: services/rating/rate_limits.h
//
// Rate-limit configuration: a GCRA limit per method and scope (the member the
// call is about, and the calling client), each with a sustained rate, a burst
// and a shadow mode (count and log, never reject). Limits live in Redis, so
// they hold across every server process sharing it.
//
// Text form (the --rate_limits flag), comma separated:
//   <Method>.<member|client>=<count>/<s|m|h>[:burst=<n>][:shadow]
//   <Method>.<member|client>=off
// e.g.
// "SubmitRating.member=30/m:burst=10,SubmitRating.client=2000/s:burst=4000"
#pragma once

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace makegood::rating {

struct LimitSpec {
  double rate_per_second = 0;  // 0: no limit.
  int64_t burst = 1;
  bool shadow = false;

  bool enabled() const { return rate_per_second > 0; }
  // Milliseconds between requests at the sustained rate.
  double interval_ms() const { return 1000.0 / rate_per_second; }
};

struct MethodLimits {
  LimitSpec member;
  LimitSpec client;
};

class RateLimits {
 public:
  // The defaults: SubmitRating member 30/m burst 10, client 2000/s burst 4000.
  static RateLimits Defaults();

  // Defaults overridden by `text`. INVALID_ARGUMENT naming the bad entry.
  static absl::StatusOr<RateLimits> Parse(absl::string_view text);

  // Limits of `method` (e.g. "SubmitRating"); none if not configured.
  MethodLimits For(absl::string_view method) const;

 private:
  absl::flat_hash_map<std::string, MethodLimits> methods_;
};

}  // namespace makegood::rating
