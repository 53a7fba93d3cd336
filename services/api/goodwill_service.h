// File: services/api/goodwill_service.h
//
// makegood.v1.GoodwillService.GrantGoodwill: a support agent makes good on
// the spot — wallet credit, a coupon, or money back to the original payment
// of an order — with no approval, within two budgets, fully audited:
//   1. goodwill_agent.lua reserves the amount on the agent's daily budget
//      (a key in a slot of its own, idempotent per grant);
//   2. grant_goodwill.lua, in the member's partition, checks idempotency
//      (the refund record is the idempotency record: it never expires), the
//      member's 30-day goodwill budget, the order's owner and ceiling, then
//      writes the refund (ACCEPTED, paid by the settlement worker like any
//      refund), its ledger postings, outbox entry, creation event, an audit
//      entry (mg:{p<N>}:goodwill: agent, caller, reason, note) and a member
//      notification — atomically;
//   3. if step 2 refuses, this request's reservation of step 1 is released;
//      once it grants (or replays a grant of the same day), the reservation
//      is confirmed as the grant's, so concurrent requests with one key can
//      never leave the agent's day below its committed grants.
// Ids derive from the idempotency scope (caller, method, member, key), so a
// retry maps to the same grant and refund; a replay answers as the first
// call did. A crash between steps 1 and 2 leaves a reservation that the
// retry reuses (or that expires with the day).
//
// Thread-safety: thread-safe; handlers never block.
#pragma once

#include <cstdint>
#include <memory>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "makegood/v1/goodwill_service.grpc.pb.h"
#include "services/auth/authenticator.h"
#include "services/core/clock.h"
#include "services/policy_file/policy_document.h"
#include "services/redis/redis_client.h"
#include "services/redis/redis_reply.h"
#include "services/store/key_schema.h"

namespace makegood::api {

struct GoodwillOptions {
  // What one agent may grant per UTC day, in minor units of the policy's
  // currency.
  int64_t agent_daily_budget_minor = 10000;
  // What one member may receive over 30 days.
  int64_t member_budget_minor = 5000;
};

class GoodwillService final
    : public makegood::v1::GoodwillService::CallbackService {
 public:
  static constexpr int kMaxNoteLength = 1000;

  // Does not take ownership; all must outlive the service.
  GoodwillService(const auth::Authenticator& auth, redis::RedisClient& redis,
                  const store::KeySchema& keys,
                  const policy_file::ActivePolicy& policy, const Clock& clock,
                  GoodwillOptions options)
      : auth_(auth),
        redis_(redis),
        keys_(keys),
        policy_(policy),
        clock_(clock),
        options_(options) {}

  grpc::ServerUnaryReactor* GrantGoodwill(
      grpc::CallbackServerContext* context,
      const makegood::v1::GrantGoodwillRequest* request,
      makegood::v1::GrantGoodwillResponse* response) override;

 private:
  struct Grant;

  // Runs `operation` of goodwill_agent.lua on the grant's reservation, then
  // `then` (whatever Redis answered: failures are logged).
  void AgentBudget(std::shared_ptr<Grant> grant, const char* operation,
                   absl::AnyInvocable<void()> then);
  void OnGranted(std::shared_ptr<Grant> grant, int64_t agent_remaining,
                 absl::StatusOr<redis::RedisReply> granted);

  const auth::Authenticator& auth_;
  redis::RedisClient& redis_;
  const store::KeySchema& keys_;
  const policy_file::ActivePolicy& policy_;
  const Clock& clock_;
  const GoodwillOptions options_;
};

}  // namespace makegood::api
