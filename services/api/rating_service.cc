#include "services/api/rating_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "services/api/validation.h"
#include "services/rpc/unary_handler.h"

namespace makegood::api {

grpc::ServerUnaryReactor* RatingService::SubmitRating(
    grpc::CallbackServerContext* context,
    const makegood::v1::SubmitRatingRequest* request,
    makegood::v1::SubmitRatingResponse* response) {
  return rpc::ServeUnary(
      auth_, context, "/makegood.v1.RatingService/SubmitRating",
      [request](Violations& violations) {
        ValidateSubmitRating(*request, violations);
      },
      [this, context, request, response](const auth::Principal& who,
                                         rpc::Finish finish) {
        flow_.Submit(
            who.id, request,
            [context, response, finish](rating::RatingResult result) {
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
              if (result.status.ok()) *response = std::move(result.response);
              finish(result.status);
            });
      });
}

}  // namespace makegood::api
