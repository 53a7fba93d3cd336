#include "services/api/rating_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "services/api/caller.h"
#include "services/api/validation.h"
#include "services/errors/errors.h"

namespace makegood::api {

grpc::ServerUnaryReactor* RatingService::SubmitRating(
    grpc::CallbackServerContext* context,
    const makegood::v1::SubmitRatingRequest* request,
    makegood::v1::SubmitRatingResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<std::string> caller = CallerId(*context);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status()));
    return reactor;
  }
  Violations violations;
  ValidateSubmitRating(*request, violations);
  if (!violations.empty()) {
    reactor->Finish(ToGrpcStatus(violations.ToStatus()));
    return reactor;
  }
  flow_.Submit(*std::move(caller), request,
               [context, reactor, response](rating::RatingResult result) {
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
