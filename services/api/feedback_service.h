// File: services/api/feedback_service.h
//
// makegood.v1.FeedbackService: partners (stores, couriers) appeal the
// feedback a rating sent about them; agents and admins uphold or reject the
// appeal; an upheld appeal reverses the feedback as an abuse correction
// does. These handlers admit the caller, validate the request field by
// field and hand it to feedback::AppealFlow (services/feedback/appeal_flow.h),
// which holds the flow.
//
// Thread-safety: thread-safe; handlers never block.
#pragma once

#include "makegood/v1/feedback_service.grpc.pb.h"
#include "services/auth/authenticator.h"
#include "services/core/clock.h"
#include "services/feedback/appeal_flow.h"
#include "services/redis/redis_client.h"
#include "services/store/key_schema.h"

namespace makegood::api {

class FeedbackService final
    : public makegood::v1::FeedbackService::CallbackService {
 public:
  // Longest partner comment, in bytes.
  static constexpr int kMaxCommentLength = 1000;

  // Does not take ownership; all must outlive the service.
  FeedbackService(const auth::Authenticator& auth, redis::RedisClient& redis,
                  const store::KeySchema& keys, const Clock& clock)
      : auth_(auth), keys_(keys), flow_(redis, keys, clock) {}

  grpc::ServerUnaryReactor* AppealFeedback(
      grpc::CallbackServerContext* context,
      const makegood::v1::AppealFeedbackRequest* request,
      makegood::v1::AppealFeedbackResponse* response) override;

  grpc::ServerUnaryReactor* DecideAppeal(
      grpc::CallbackServerContext* context,
      const makegood::v1::DecideAppealRequest* request,
      makegood::v1::DecideAppealResponse* response) override;

  grpc::ServerUnaryReactor* GetAppeal(
      grpc::CallbackServerContext* context,
      const makegood::v1::GetAppealRequest* request,
      makegood::v1::GetAppealResponse* response) override;

 private:
  const auth::Authenticator& auth_;
  const store::KeySchema& keys_;
  feedback::AppealFlow flow_;
};

}  // namespace makegood::api
