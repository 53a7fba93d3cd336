// File: services/rating/rating_observer.h
//
// What the rating flow reports as it decides: each committed decision, each
// replay, each retry after a concurrent change, each rate-limit refusal (or,
// for a limit in shadow mode, each refusal it would have made) and each
// shadow-policy evaluation. RatingFlow calls it as these happen; the server
// wires it to Prometheus (services/server/metrics_observers.h) and tests
// count with it. The flow keeps no counters of its own.
//
// Example:
//   class Decisions final : public rating::RatingObserver {
//    public:
//     void OnCommitted(const makegood::v1::Decision& d) override { ... }
//   };
//   Decisions decisions;
//   RatingFlow flow(redis, keys, policy, clock, options, nullptr, &decisions);
//
// Thread-safety: methods are called from whatever thread completes a rating
// (gRPC or Redis I/O threads), concurrently. Implementations must be
// thread-safe and quick, and must not call back into the flow.
#pragma once

#include "absl/strings/string_view.h"
#include "makegood/v1/rating.pb.h"

namespace makegood::rating {

class RatingObserver {
 public:
  virtual ~RatingObserver() = default;

  // A fresh decision was committed (replays are not).
  virtual void OnCommitted(const makegood::v1::Decision& /*decision*/) {}
  // A retry was answered from what its key committed.
  virtual void OnReplayed() {}
  // A decision was made again because the member's state changed between
  // deciding and committing.
  virtual void OnStaleRetry() {}
  // A rating refused by the limit of `scope` ("member" or "client"), or, if
  // not `enforced` (a limit in shadow mode), one it would have refused.
  virtual void OnRateLimited(absl::string_view /*scope*/, bool /*enforced*/) {}
  // The shadow policy decided a rating beside the active one, and decided it
  // otherwise (outcome or money) if `disagreed`.
  virtual void OnShadowEvaluated(bool /*disagreed*/) {}
};

}  // namespace makegood::rating
