// File: services/api/rating_service.h
//
// makegood.v1.RatingService: validates a rating and hands it to the hot path
// (services/rating/rating_flow.h). Rate-limit state goes back as metadata:
// ratelimit-limit, ratelimit-remaining, ratelimit-reset (seconds) and, when
// refused, retry-after (seconds) — trailing metadata, so it is there on
// errors too.
//
// Thread-safety: thread-safe; handlers never block.
#pragma once

#include "makegood/v1/rating_service.grpc.pb.h"
#include "services/auth/authenticator.h"
#include "services/metrics/metrics.h"
#include "services/rating/rating_flow.h"

namespace makegood::api {

class RatingService final
    : public makegood::v1::RatingService::CallbackService {
 public:
  // Does not take ownership; `flow` must outlive the service.
  // `metrics` (may be null) counts decisions, money and rate-limit refusals.
  RatingService(const auth::Authenticator& auth, rating::RatingFlow& flow,
                metrics::Metrics* metrics = nullptr)
      : auth_(auth), flow_(flow), metrics_(metrics) {}

  grpc::ServerUnaryReactor* SubmitRating(
      grpc::CallbackServerContext* context,
      const makegood::v1::SubmitRatingRequest* request,
      makegood::v1::SubmitRatingResponse* response) override;

 private:
  void Count(const rating::RatingResult& result) const;

  const auth::Authenticator& auth_;
  rating::RatingFlow& flow_;
  metrics::Metrics* const metrics_;
};

}  // namespace makegood::api
