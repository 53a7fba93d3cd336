// File: services/api/goodwill_service.h
//
// makegood.v1.GoodwillService.GrantGoodwill: a support agent makes good on
// the spot within two budgets, fully audited. This handler admits the
// caller, validates the request field by field and hands it to
// goodwill::GoodwillFlow (services/goodwill/goodwill_flow.h), which holds the
// flow: reserve the agent's day, grant in the member's partition, confirm or
// release.
//
// Thread-safety: thread-safe; handlers never block.
#pragma once

#include "makegood/v1/goodwill_service.grpc.pb.h"
#include "services/auth/authenticator.h"
#include "services/core/clock.h"
#include "services/goodwill/goodwill_flow.h"
#include "services/policy_file/policy_document.h"
#include "services/redis/redis_client.h"
#include "services/store/key_schema.h"

namespace makegood::api {

class GoodwillService final
    : public makegood::v1::GoodwillService::CallbackService {
 public:
  static constexpr int kMaxNoteLength = 1000;

  // Does not take ownership; all must outlive the service.
  GoodwillService(const auth::Authenticator& auth, redis::RedisClient& redis,
                  const store::KeySchema& keys,
                  const policy_file::ActivePolicy& policy, const Clock& clock,
                  goodwill::GoodwillOptions options)
      : auth_(auth), flow_(redis, keys, policy, clock, options) {}

  grpc::ServerUnaryReactor* GrantGoodwill(
      grpc::CallbackServerContext* context,
      const makegood::v1::GrantGoodwillRequest* request,
      makegood::v1::GrantGoodwillResponse* response) override;

 private:
  const auth::Authenticator& auth_;
  goodwill::GoodwillFlow flow_;
};

}  // namespace makegood::api
