// File: services/goodwill/goodwill_flow.h
//
// GrantGoodwill's flow: a support agent makes good on the spot — wallet
// credit, a coupon, or money back to the original payment of an order — with
// no approval, within two budgets, fully audited:
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
// The scripts are called through their typed requests and replies
// (goodwill_agent_script.h, grant_goodwill_script.h). The gRPC handler
// (services/api/goodwill_service.h) admits, validates and calls Grant.
//
// Thread-safety: thread-safe; Grant never blocks.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "makegood/v1/goodwill_service.pb.h"
#include "services/core/clock.h"
#include "services/goodwill/goodwill_agent_script.h"
#include "services/policy_file/policy_document.h"
#include "services/redis/redis_client.h"
#include "services/store/key_schema.h"

namespace makegood::goodwill {

// The budgets of a currency whose goodwill budgets the policy does not set
// (policy::GoodwillBudgetsFor), in its minor units. Budgets are kept per
// currency: an agent's day and a member's 30 days in one currency are never
// spent by grants in another.
struct GoodwillOptions {
  // What one agent may grant per UTC day.
  int64_t agent_daily_budget_minor = 10000;
  // What one member may receive over 30 days.
  int64_t member_budget_minor = 5000;
};

class GoodwillFlow {
 public:
  using Done = absl::AnyInvocable<void(
      absl::StatusOr<makegood::v1::GrantGoodwillResponse>)>;

  // Does not take ownership; all must outlive the flow.
  GoodwillFlow(redis::RedisClient& redis, const store::KeySchema& keys,
               const policy_file::ActivePolicy& policy, const Clock& clock,
               GoodwillOptions options)
      : redis_(redis),
        keys_(keys),
        policy_(policy),
        clock_(clock),
        options_(options) {}

  // Grants `request` (which passed the handler's validation) for `caller`,
  // the principal's id; `request` need not outlive the call. `done` runs
  // once, on a Redis thread, with the response or an error with its
  // ErrorInfo reason:
  //   FAILED_PRECONDITION  CURRENCY_NOT_SUPPORTED, AGENT_BUDGET_EXCEEDED,
  //                        MEMBER_BUDGET_EXCEEDED, ORDER_FULLY_REFUNDED,
  //                        IDEMPOTENCY_KEY_REUSED;
  //   NOT_FOUND            MEMBER_NOT_FOUND, ORDER_NOT_FOUND;
  //   PERMISSION_DENIED    NOT_ORDER_MEMBER;
  //   UNAVAILABLE          Redis: the grant may have been made; a retry with
  //                        the same key replays it;
  //   INTERNAL             a script answered what it never answers;
  //   DATA_LOSS            a stored grant does not parse.
  void Grant(absl::string_view caller,
             const makegood::v1::GrantGoodwillRequest& request, Done done);

 private:
  struct Call;

  void OnReserved(std::shared_ptr<Call> call,
                  absl::StatusOr<redis::RedisReply> reserved);
  void OnGranted(std::shared_ptr<Call> call,
                 absl::StatusOr<redis::RedisReply> granted);
  // Runs `operation` of goodwill_agent.lua on the call's reservation, then
  // `then` (whatever Redis answered: failures are logged).
  void AgentBudget(std::shared_ptr<Call> call,
                   AgentBudgetRequest::Operation operation,
                   absl::AnyInvocable<void()> then);
  // Releases the call's reservation, then finishes with `status`.
  void Refuse(std::shared_ptr<Call> call, absl::Status status);

  redis::RedisClient& redis_;
  const store::KeySchema& keys_;
  const policy_file::ActivePolicy& policy_;
  const Clock& clock_;
  const GoodwillOptions options_;
};

}  // namespace makegood::goodwill
