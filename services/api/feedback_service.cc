#include "services/api/feedback_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "services/api/validation.h"
#include "services/core/text.h"
#include "services/feedback/appeal_ids.h"
#include "services/rpc/unary_handler.h"

namespace makegood::api {
namespace {

void ValidateKey(absl::string_view key, Violations& violations) {
  if (!IsPrintableAscii(key, 1, kMaxIdempotencyKeyLength)) {
    violations.Add("idempotency_key",
                   "must be 1-255 printable ASCII characters");
  }
}

void ValidateAppealId(absl::string_view appeal_id, int partitions,
                      Violations& violations) {
  if (!feedback::ParseAppealId(appeal_id, partitions).has_value()) {
    violations.Add("appeal_id",
                   "is not an appeal id of this deployment "
                   "(ap_<partition>_<24 hex digits>_<n>, as the feedback "
                   "event carries it)");
  }
}

void ValidateReason(absl::string_view reason, Violations& violations) {
  if (!IsLowerToken(reason, 64)) {
    violations.Add("reason", "must be 1-64 characters of [a-z0-9_-]");
  }
}

// Finishes with `result`'s status after moving its value into `response`.
template <typename Response>
auto Respond(Response* response, rpc::Finish finish) {
  return [response, finish](absl::StatusOr<Response> result) {
    if (result.ok()) *response = *std::move(result);
    finish(result.status());
  };
}

}  // namespace

grpc::ServerUnaryReactor* FeedbackService::AppealFeedback(
    grpc::CallbackServerContext* context,
    const makegood::v1::AppealFeedbackRequest* request,
    makegood::v1::AppealFeedbackResponse* response) {
  return rpc::ServeUnary(
      auth_, context, "/makegood.v1.FeedbackService/AppealFeedback",
      [this, request](Violations& violations) {
        ValidateKey(request->idempotency_key(), violations);
        ValidateAppealId(request->appeal_id(), keys_.partitions(), violations);
        ValidateReason(request->reason(), violations);
        if (request->comment().size() > kMaxCommentLength) {
          violations.Add("comment", absl::StrCat("must be at most ",
                                                 kMaxCommentLength, " bytes"));
        }
      },
      [this, request, response](const auth::Principal& who,
                                rpc::Finish finish) {
        flow_.File(who, *request, Respond(response, finish));
      });
}

grpc::ServerUnaryReactor* FeedbackService::DecideAppeal(
    grpc::CallbackServerContext* context,
    const makegood::v1::DecideAppealRequest* request,
    makegood::v1::DecideAppealResponse* response) {
  return rpc::ServeUnary(
      auth_, context, "/makegood.v1.FeedbackService/DecideAppeal",
      [this, request](Violations& violations) {
        ValidateKey(request->idempotency_key(), violations);
        ValidateAppealId(request->appeal_id(), keys_.partitions(), violations);
        if (request->decision() != makegood::v1::APPEAL_DECISION_UPHOLD &&
            request->decision() != makegood::v1::APPEAL_DECISION_REJECT) {
          violations.Add("decision",
                         "must be APPEAL_DECISION_UPHOLD or "
                         "APPEAL_DECISION_REJECT");
        }
        ValidateId("agent_id", request->agent_id(), violations);
        ValidateReason(request->reason(), violations);
      },
      [this, request, response](const auth::Principal& who,
                                rpc::Finish finish) {
        flow_.Decide(who, *request, Respond(response, finish));
      });
}

grpc::ServerUnaryReactor* FeedbackService::GetAppeal(
    grpc::CallbackServerContext* context,
    const makegood::v1::GetAppealRequest* request,
    makegood::v1::GetAppealResponse* response) {
  return rpc::ServeUnary(
      auth_, context, "/makegood.v1.FeedbackService/GetAppeal",
      [this, request](Violations& violations) {
        ValidateAppealId(request->appeal_id(), keys_.partitions(), violations);
      },
      [this, request, response](const auth::Principal& who,
                                rpc::Finish finish) {
        flow_.Get(who, *request, Respond(response, finish));
      });
}

}  // namespace makegood::api
