#include "services/feedback/appeal_flow.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "services/errors/errors.h"
#include "services/feedback/appeal_ids.h"
#include "services/feedback/appeal_record.h"
#include "services/feedback/decide_appeal_script.h"
#include "services/feedback/file_appeal_script.h"
#include "services/feedback/lua/scripts.h"
#include "services/feedback/read_appeal_script.h"
#include "services/rating/rating_ids.h"

namespace makegood::feedback {
namespace {

using redis::RedisReply;

// "<size>:<text>", so no two field lists encode alike.
std::string Field(absl::string_view text) {
  return absl::StrCat(text.size(), ":", text, "|");
}

// Business fields, canonically: the idempotency key itself is not part.
std::string Fingerprint(const makegood::v1::AppealFeedbackRequest& r) {
  return rating::Sha256Hex(absl::StrCat("makegood.appeal.v1;",
                                        Field(r.appeal_id()), Field(r.reason()),
                                        Field(r.comment())));
}

std::string Fingerprint(const makegood::v1::DecideAppealRequest& r) {
  return rating::Sha256Hex(
      absl::StrCat("makegood.appeal_decision.v1;", Field(r.appeal_id()),
                   Field(DecisionStateName(r.decision())), Field(r.agent_id()),
                   Field(r.reason())));
}

absl::Status BadAppealId() {
  return absl::InvalidArgumentError(
      "appeal_id is not an appeal id of this deployment "
      "(ap_<partition>_<24 hex digits>_<n>)");
}

absl::Status KeyReused() {
  return ErrorWithReason(
      absl::StatusCode::kFailedPrecondition, "IDEMPOTENCY_KEY_REUSED",
      "this idempotency key was already used with a different request");
}

absl::Status NotTarget() {
  return ErrorWithReason(absl::StatusCode::kPermissionDenied,
                         "NOT_FEEDBACK_TARGET",
                         "the feedback is about another store or courier");
}

absl::Status AppealNotFound() {
  return ErrorWithReason(absl::StatusCode::kNotFound, "APPEAL_NOT_FOUND",
                         "no appeal has this id");
}

// What a refusal of file_appeal.lua means to the caller.
absl::Status Refusal(const FileAppealReply& reply) {
  switch (reply.outcome) {
    case FileAppealReply::kExists:
      return ErrorWithReason(
          absl::StatusCode::kAlreadyExists, "APPEAL_EXISTS",
          absl::StrCat("this feedback was appealed already (under another "
                       "idempotency key); the appeal is ",
                       AppealStateName(reply.appeal.state())));
    case FileAppealReply::kReused:
      return KeyReused();
    case FileAppealReply::kNoFeedback:
      return ErrorWithReason(absl::StatusCode::kNotFound, "FEEDBACK_NOT_FOUND",
                             "no feedback event has this appeal id");
    case FileAppealReply::kNotTarget:
      return NotTarget();
    case FileAppealReply::kReversed:
      return ErrorWithReason(
          absl::StatusCode::kFailedPrecondition, "FEEDBACK_ALREADY_REVERSED",
          absl::StrCat(
              "the feedback was reversed already (",
              reply.reversed_by == makegood::v1::FEEDBACK_REVERSAL_CLAIM_ABUSIVE
                  ? "the member's claim was found abusive"
                  : "an appeal was upheld",
              "): there is nothing left to appeal"));
    default:
      return absl::InternalError("file_appeal: not a refusal");
  }
}

bool MayReadEveryAppeal(const auth::Principal& who) {
  return who.roles.Contains(auth::Role::kAgent) ||
         who.roles.Contains(auth::Role::kAdmin);
}

absl::string_view KindName(makegood::v1::FeedbackKind kind) {
  return kind == makegood::v1::FEEDBACK_KIND_STORE     ? "store_feedback"
         : kind == makegood::v1::FEEDBACK_KIND_COURIER ? "courier_feedback"
                                                       : "";
}

}  // namespace

void AppealFlow::File(const auth::Principal& who,
                      const makegood::v1::AppealFeedbackRequest& request,
                      Done<makegood::v1::AppealFeedbackResponse> done) {
  std::optional<AppealId> id =
      ParseAppealId(request.appeal_id(), keys_.partitions());
  if (!id.has_value()) {
    done(BadAppealId());
    return;
  }
  std::optional<Partner> partner = PartnerOf(who.id);
  if (!partner.has_value()) {
    done(ErrorWithReason(
        absl::StatusCode::kPermissionDenied, "PARTNER_ID_UNMAPPED",
        absl::StrCat("principal \"", who.id,
                     "\" names no store or courier: a partner's principal "
                     "id is store:<store_id> or courier:<courier_id>")));
    return;
  }
  FileAppealRequest file;
  file.appeal_id = request.appeal_id();
  file.SetKeys(keys_, *id);
  file.idempotency_key = request.idempotency_key();
  file.fingerprint = Fingerprint(request);
  file.partner = *std::move(partner);
  file.caller = who.id;
  file.reason = request.reason();
  file.comment = request.comment();
  file.now_ms = absl::ToUnixMillis(clock_.Now());
  redis_.Eval(
      scripts::kFileAppeal, file.Keys(), file.Args(),
      [done = std::move(done)](absl::StatusOr<RedisReply> r) mutable {
        if (!r.ok()) {
          done(r.status());
          return;
        }
        absl::StatusOr<FileAppealReply> reply = ParseFileAppealReply(*r);
        if (!reply.ok()) {
          done(reply.status());
          return;
        }
        if (reply->outcome != FileAppealReply::kOk &&
            reply->outcome != FileAppealReply::kReplay) {
          done(Refusal(*reply));
          return;
        }
        makegood::v1::AppealFeedbackResponse response;
        *response.mutable_appeal() = std::move(reply->appeal);
        response.set_replayed(reply->outcome == FileAppealReply::kReplay);
        done(std::move(response));
      });
}

void AppealFlow::Decide(const auth::Principal& who,
                        const makegood::v1::DecideAppealRequest& request,
                        Done<makegood::v1::DecideAppealResponse> done) {
  std::optional<AppealId> id =
      ParseAppealId(request.appeal_id(), keys_.partitions());
  if (!id.has_value()) {
    done(BadAppealId());
    return;
  }
  DecideAppealRequest decide;
  decide.SetKeys(keys_, request.appeal_id(), *id);
  decide.idempotency_key = request.idempotency_key();
  decide.fingerprint = Fingerprint(request);
  decide.decision = std::string(DecisionStateName(request.decision()));
  decide.actor = absl::StrCat("agent:", request.agent_id());
  decide.caller = who.id;
  decide.reason = request.reason();
  decide.now_ms = absl::ToUnixMillis(clock_.Now());
  redis_.Eval(
      scripts::kDecideAppeal, decide.Keys(), decide.Args(),
      [done = std::move(done)](absl::StatusOr<RedisReply> r) mutable {
        if (!r.ok()) {
          done(r.status());
          return;
        }
        absl::StatusOr<DecideAppealReply> reply = ParseDecideAppealReply(*r);
        if (!reply.ok()) {
          done(reply.status());
          return;
        }
        switch (reply->outcome) {
          case DecideAppealReply::kMissing:
            done(AppealNotFound());
            return;
          case DecideAppealReply::kReused:
            done(KeyReused());
            return;
          case DecideAppealReply::kConflict:
            done(ErrorWithReason(
                absl::StatusCode::kFailedPrecondition, "APPEAL_ALREADY_DECIDED",
                absl::StrCat("the appeal was already decided the other way (",
                             AppealStateName(reply->appeal.state()), " by ",
                             reply->appeal.decided_by(), ")")));
            return;
          default:
            break;
        }
        makegood::v1::DecideAppealResponse response;
        *response.mutable_appeal() = std::move(reply->appeal);
        response.set_replayed(reply->outcome != DecideAppealReply::kOk);
        response.set_feedback_reversed(reply->reversed_now);
        done(std::move(response));
      });
}

void AppealFlow::Get(const auth::Principal& who,
                     const makegood::v1::GetAppealRequest& request,
                     Done<makegood::v1::GetAppealResponse> done) {
  std::optional<AppealId> id =
      ParseAppealId(request.appeal_id(), keys_.partitions());
  if (!id.has_value()) {
    done(BadAppealId());
    return;
  }
  // Only agents and admins read every appeal; anyone else must be the
  // partner the feedback is about.
  std::optional<Partner> partner;
  if (!MayReadEveryAppeal(who)) {
    partner = PartnerOf(who.id);
    if (!partner.has_value()) {
      done(NotTarget());
      return;
    }
  }
  ReadAppealRequest read;
  read.appeal_id = request.appeal_id();
  read.include_events = request.include_events();
  read.SetKeys(keys_, *id);
  redis_.Eval(scripts::kReadAppeal, read.Keys(), read.Args(),
              [done = std::move(done), partner = std::move(partner)](
                  absl::StatusOr<RedisReply> r) mutable {
                if (!r.ok()) {
                  done(r.status());
                  return;
                }
                absl::StatusOr<ReadAppealReply> reply =
                    ParseReadAppealReply(*r);
                if (!reply.ok()) {
                  done(reply.status());
                  return;
                }
                if (!reply->found) {
                  done(AppealNotFound());
                  return;
                }
                if (partner.has_value() &&
                    (KindName(reply->appeal.feedback_kind()) !=
                         partner->feedback_kind ||
                     reply->appeal.target_id() != partner->target_id)) {
                  done(NotTarget());
                  return;
                }
                makegood::v1::GetAppealResponse response;
                *response.mutable_appeal() = std::move(reply->appeal);
                for (makegood::v1::AppealEvent& e : reply->events) {
                  *response.add_events() = std::move(e);
                }
                done(std::move(response));
              });
}

}  // namespace makegood::feedback
