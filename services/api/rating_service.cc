#include "services/api/rating_service.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "services/api/validation.h"
#include "services/auth/admit.h"
#include "services/errors/errors.h"
#include "services/store/refund_store.h"

namespace makegood::api {
namespace {

// "OUTCOME_WALLET_CREDIT" -> "wallet_credit".
std::string OutcomeLabel(makegood::v1::Outcome outcome) {
  return absl::AsciiStrToLower(
      absl::StripPrefix(makegood::v1::Outcome_Name(outcome), "OUTCOME_"));
}

}  // namespace

void RatingService::Count(const rating::RatingResult& result) const {
  if (metrics_ == nullptr) return;
  if (result.status.code() == absl::StatusCode::kResourceExhausted &&
      result.rate_limit.has_value()) {
    metrics_->RecordRateLimitRejection(
        "/makegood.v1.RatingService/SubmitRating", result.rate_limit->scope);
  }
  if (!result.status.ok() || result.response.replayed()) return;
  const makegood::v1::Decision& decision = result.response.decision();
  metrics_->RecordDecision(OutcomeLabel(decision.outcome()),
                           decision.policy_version());
  if (decision.has_refund()) {
    metrics_->RecordRefund(
        store::InstrumentName(decision.refund().instrument()),
        decision.refund().currency(), decision.refund().amount_minor());
  }
}

grpc::ServerUnaryReactor* RatingService::SubmitRating(
    grpc::CallbackServerContext* context,
    const makegood::v1::SubmitRatingRequest* request,
    makegood::v1::SubmitRatingResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<auth::Principal> who = auth::Admit(
      auth_, *context, reactor, "/makegood.v1.RatingService/SubmitRating");
  if (!who.has_value()) return reactor;
  Violations violations;
  ValidateSubmitRating(*request, violations);
  if (!violations.empty()) {
    reactor->Finish(ToGrpcStatus(violations.ToStatus()));
    return reactor;
  }
  flow_.Submit(std::move(who->id), request,
               [this, context, reactor, response](rating::RatingResult result) {
                 Count(result);
                 if (result.rate_limit.has_value()) {
                   const rating::RateLimitHeaders& h = *result.rate_limit;
                   context->AddTrailingMetadata("ratelimit-limit",
                                                absl::StrCat(h.limit));
                   context->AddTrailingMetadata("ratelimit-remaining",
                                                absl::StrCat(h.remaining));
                   context->AddTrailingMetadata("ratelimit-reset",
                                                absl::StrCat(h.reset_seconds));
                   context->AddTrailingMetadata("ratelimit-scope", h.scope);
                   if (h.retry_after_seconds > 0) {
                     context->AddTrailingMetadata(
                         "retry-after", absl::StrCat(h.retry_after_seconds));
                   }
                 }
                 if (!result.status.ok()) {
                   reactor->Finish(ToGrpcStatus(result.status));
                   return;
                 }
                 *response = std::move(result.response);
                 reactor->Finish(grpc::Status::OK);
               });
  return reactor;
}

}  // namespace makegood::api
