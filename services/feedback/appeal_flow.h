// File: services/feedback/appeal_flow.h
//
// FeedbackService's flow: appeals of the courier/store feedback a rating
// sent. Each step is one script in the rating's partition (the appeal id
// names it, appeal_ids.h), so it is atomic and needs no lock:
//   File    file_appeal.lua: the feedback exists and is about the calling
//           partner, idempotency, the feedback still stands; the appeal
//           (open), its first audit event, and an `appeal_review` task on
//           the partition's tasks stream for the agents.
//   Decide  decide_appeal.lua: idempotency, one decision per appeal; an
//           upheld appeal reverses the feedback through the store's
//           lib/feedback_reversal.lua, the very code of the abuse correction
//           (mark_abusive.lua): the rating marks each reversed item
//           (`rev:<appeal id>`), so the reversal event is written once,
//           whichever of the two comes first, and the other records it.
//   Get     read_appeal.lua: the appeal, the reversal as the rating records
//           it now, optionally the audit trail.
// The appeal record is its own idempotency record (it never expires): the
// filing and the decision each keep their key and request fingerprint, so a
// retry at any time answers as the first call did (replayed = true), and
// another request under the same key is refused.
//
// The scripts are called through their typed requests and replies
// (file_appeal_script.h, decide_appeal_script.h, read_appeal_script.h). The
// gRPC handler (services/api/feedback_service.h) admits, validates and calls
// this flow.
//
// Thread-safety: thread-safe; no method blocks. `done` runs once, on a Redis
// thread (or inline for refusals made before Redis).
#pragma once

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "makegood/v1/feedback_service.pb.h"
#include "services/auth/principal.h"
#include "services/core/clock.h"
#include "services/redis/redis_client.h"
#include "services/store/key_schema.h"

namespace makegood::feedback {

class AppealFlow {
 public:
  template <typename Response>
  using Done = absl::AnyInvocable<void(absl::StatusOr<Response>)>;

  // Does not take ownership; all must outlive the flow.
  AppealFlow(redis::RedisClient& redis, const store::KeySchema& keys,
             const Clock& clock)
      : redis_(redis), keys_(keys), clock_(clock) {}

  // Files `request` (which passed the handler's validation) for partner
  // `who`. Errors, with their ErrorInfo reason:
  //   INVALID_ARGUMENT     the appeal id is not one of this deployment;
  //   PERMISSION_DENIED    PARTNER_ID_UNMAPPED (the principal id is not
  //                        "store:<id>" / "courier:<id>"), NOT_FEEDBACK_TARGET;
  //   NOT_FOUND            FEEDBACK_NOT_FOUND;
  //   ALREADY_EXISTS       APPEAL_EXISTS (filed before under another key);
  //   FAILED_PRECONDITION  IDEMPOTENCY_KEY_REUSED, FEEDBACK_ALREADY_REVERSED;
  //   UNAVAILABLE          Redis: it may have been filed; retry with the key.
  void File(const auth::Principal& who,
            const makegood::v1::AppealFeedbackRequest& request,
            Done<makegood::v1::AppealFeedbackResponse> done);

  // Decides `request` for the calling agent or admin `who`. Errors:
  //   INVALID_ARGUMENT     the appeal id is not one of this deployment;
  //   NOT_FOUND            APPEAL_NOT_FOUND;
  //   FAILED_PRECONDITION  IDEMPOTENCY_KEY_REUSED, APPEAL_ALREADY_DECIDED
  //                        (the other way);
  //   UNAVAILABLE          Redis: it may have been decided; retry.
  void Decide(const auth::Principal& who,
              const makegood::v1::DecideAppealRequest& request,
              Done<makegood::v1::DecideAppealResponse> done);

  // Reads an appeal. A caller holding neither agent nor admin sees only
  // appeals of feedback about itself (else PERMISSION_DENIED,
  // NOT_FEEDBACK_TARGET). Unknown: NOT_FOUND (APPEAL_NOT_FOUND).
  void Get(const auth::Principal& who,
           const makegood::v1::GetAppealRequest& request,
           Done<makegood::v1::GetAppealResponse> done);

 private:
  redis::RedisClient& redis_;
  const store::KeySchema& keys_;
  const Clock& clock_;
};

}  // namespace makegood::feedback
