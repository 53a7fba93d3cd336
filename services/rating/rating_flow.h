// File: services/rating/rating_flow.h
//
// SubmitRating's hot path: a validated rating becomes a committed decision in
// two Redis round trips, exactly once per idempotency key.
//
//   round trip 1 (pipelined, in parallel):
//     rate_limit.lua   the calling client's GCRA limit (its own hash slot),
//                      only when this replica holds none of the client's
//                      leased cells (client_leases.h): it then leases a
//                      batch of them
//     admit_rating.lua idempotency lookup (replay / in flight / key reused),
//                      the member's GCRA limit, order and member checks, the
//                      claim of the key (a lease with a random token), and the
//                      snapshot the policy needs
//   decide in C++ with the pure policy engine (microseconds)
//   round trip 2:
//     commit_rating.lua if the claim is still ours and the member's stats
//                      version is unchanged: rating, refund, ledger postings,
//                      counters, outbox entry and the stored response, all at
//                      once, enforcing the order's ceiling; else STALE and the
//                      flow decides again on a fresh snapshot (bounded)
//
// Each script is called through its typed call beside it (admit_script.h,
// commit_script.h, release_script.h, rate_limit_script.h): the flow spells
// no key, argument position or reply index.
//
// A replay costs round trip 1 only, mostly the admit script alone. Failures
// after the claim release it (release_rating.lua) so the caller's retry
// proceeds at once; if even that fails, the lease lapses by itself. Replays are
// answered even when a limit is exceeded: answering is cheaper than refusing
// and ends retry storms.
//
// Thread-safety: thread-safe. `done` runs on the Redis I/O thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "makegood/v1/rating_service.pb.h"
#include "services/core/clock.h"
#include "services/experiments/experiment.h"
#include "services/policy_file/policy_document.h"
#include "services/rating/admit_script.h"
#include "services/rating/client_leases.h"
#include "services/rating/rate_limits.h"
#include "services/rating/rating_observer.h"
#include "services/redis/redis_client.h"
#include "services/store/key_schema.h"

namespace makegood::rating {

// Values for the ratelimit-* / retry-after response metadata.
struct RateLimitHeaders {
  int64_t limit = 0;      // The burst: requests allowed at once.
  int64_t remaining = 0;  // Requests left right now.
  int64_t reset_seconds = 0;
  int64_t retry_after_seconds = 0;  // Set when refused.
  std::string scope;                // "member" or "client".
};

struct RatingResult {
  absl::Status status;
  // Set when status is OK.
  makegood::v1::SubmitRatingResponse response;
  std::optional<RateLimitHeaders> rate_limit;
};

struct RatingFlowOptions {
  RateLimits limits = RateLimits::Defaults();
  // How long a completed key answers replays.
  absl::Duration idempotency_ttl = absl::Hours(24);
  // How long a claim blocks the same key if its holder dies.
  absl::Duration claim_lease = absl::Seconds(10);
  // Decide-and-commit attempts when concurrent ratings of the same member
  // change its state in between.
  int max_attempts = 5;
  // How long a day of the retention windows lasts (retention/trouble.h): a
  // day but in simulations.
  absl::Duration retention_day = absl::Hours(24);
};

class RatingFlow {
 public:
  // Does not take ownership; all must outlive the flow. `shadow`, if not
  // null, is a candidate policy decided beside the active one on every fresh
  // rating: disagreements are counted and logged with both decisions, and the
  // shadow decision is never committed (it moves no money). `observer`, if
  // not null, is told what happens (rating_observer.h). `experiments`, if not
  // null, says which policy experiment runs: its candidate decides for the
  // members of its candidate arm, and every decision records its arm.
  RatingFlow(redis::RedisClient& redis, const store::KeySchema& keys,
             const policy_file::ActivePolicy& policy, const Clock& clock,
             RatingFlowOptions options,
             const policy_file::ActivePolicy* shadow = nullptr,
             RatingObserver* observer = nullptr,
             const experiments::ExperimentSource* experiments = nullptr);

  // Decides and commits `request` for `caller`. The request must have passed
  // ValidateSubmitRating and must outlive `done`. Errors (in
  // RatingResult::status, with ErrorInfo reasons):
  //   NOT_FOUND (ORDER_NOT_FOUND), PERMISSION_DENIED (NOT_ORDER_MEMBER),
  //   FAILED_PRECONDITION (IDEMPOTENCY_KEY_REUSED, RATING_WINDOW_CLOSED,
  //   MEMBER_NOT_FOUND, POLICY_PRECONDITION), INVALID_ARGUMENT (a line_id not
  //   in the order), ABORTED (IDEMPOTENCY_KEY_IN_FLIGHT, CONCURRENT_UPDATE),
  //   RESOURCE_EXHAUSTED (RATE_LIMITED), UNAVAILABLE (Redis).
  void Submit(std::string caller,
              const makegood::v1::SubmitRatingRequest* request,
              absl::AnyInvocable<void(RatingResult)> done);

 private:
  struct Call;

  void StartAttempt(std::shared_ptr<Call> call, bool first);
  void OnAdmitted(std::shared_ptr<Call> call);
  void OnOrderMissing(std::shared_ptr<Call> call);
  // Answers a retry whose idempotency record expired from the rating record
  // its key committed, if the request is the same (else
  // IDEMPOTENCY_KEY_REUSED).
  void ReplayRecorded(std::shared_ptr<Call> call,
                      const std::string& record_bytes);
  void DecideAndCommit(std::shared_ptr<Call> call, AdmitReply admit);
  // Decides with the shadow policy and reports a disagreement.
  void Shadow(const Call& call, const policy::MemberSnapshot& member,
              const policy::OrderSnapshot& order,
              const policy::RatingInput& rating,
              const policy::Decision& active);
  void OnCommitted(std::shared_ptr<Call> call,
                   absl::StatusOr<redis::RedisReply> reply,
                   makegood::v1::SubmitRatingResponse response);
  // Releases the claim (best effort), then finishes with `status`.
  void ReleaseAndFinish(std::shared_ptr<Call> call, absl::Status status);
  void Finish(std::shared_ptr<Call> call, RatingResult result);

  static RatingObserver& NoObserver();

  redis::RedisClient& redis_;
  const store::KeySchema& keys_;
  const policy_file::ActivePolicy& policy_;
  const Clock& clock_;
  const RatingFlowOptions options_;
  const policy_file::ActivePolicy* const shadow_;
  const experiments::ExperimentSource* const experiments_;

  RatingObserver& observer_;
  // This replica's leases of its clients' limits.
  ClientLeases client_leases_;
};

}  // namespace makegood::rating
