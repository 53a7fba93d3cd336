// File: services/api/rating_service.h
//
// makegood.v1.RatingService: validates a rating and hands it to the hot path
// (services/rating/rating_flow.h). Rate-limit state goes back as metadata:
// ratelimit-limit, ratelimit-remaining, ratelimit-reset (seconds) and, when
// refused, retry-after (seconds) — trailing metadata, so it is there on
// errors too. Decisions, money and rate-limit refusals are counted by the
// flow's observer (services/rating/rating_observer.h).
//
// Thread-safety: thread-safe; handlers never block.
#pragma once

#include "makegood/v1/rating_service.grpc.pb.h"
#include "services/auth/authenticator.h"
#include "services/rating/rating_flow.h"

namespace makegood::api {

class RatingService final
    : public makegood::v1::RatingService::CallbackService {
 public:
  // Does not take ownership; `flow` must outlive the service.
  RatingService(const auth::Authenticator& auth, rating::RatingFlow& flow)
      : auth_(auth), flow_(flow) {}

  grpc::ServerUnaryReactor* SubmitRating(
      grpc::CallbackServerContext* context,
      const makegood::v1::SubmitRatingRequest* request,
      makegood::v1::SubmitRatingResponse* response) override;

 private:
  const auth::Authenticator& auth_;
  rating::RatingFlow& flow_;
};

}  // namespace makegood::api
