#include "services/goodwill/goodwill_flow.h"

#include <string>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/core/log.h"
#include "services/errors/errors.h"
#include "services/goodwill/grant_goodwill_script.h"
#include "services/goodwill/lua/scripts.h"
#include "services/policy/markets.h"
#include "services/rating/rating_ids.h"
#include "services/rating/snapshot.h"
#include "services/store/refund_store.h"

namespace makegood::goodwill {
namespace {

using redis::RedisReply;

// Business fields, canonically: the idempotency key itself is not part.
std::string Fingerprint(const makegood::v1::GrantGoodwillRequest& r) {
  return rating::Sha256Hex(absl::StrCat(
      r.agent_id().size(), ":", r.agent_id(), "|", r.member_id().size(), ":",
      r.member_id(), "|", r.order_id().size(), ":", r.order_id(), "|",
      r.amount_minor(), "|", r.currency(), "|", r.instrument(), "|", r.reason(),
      "|", r.note().size(), ":", r.note()));
}

std::string NewToken() {
  thread_local absl::BitGen gen;
  return absl::StrCat(
      absl::Hex(absl::Uniform<uint64_t>(gen), absl::kZeroPad16),
      absl::Hex(absl::Uniform<uint64_t>(gen), absl::kZeroPad16));
}

// What a refusal of grant_goodwill.lua means to the caller.
absl::Status Refusal(const GrantReply& reply) {
  switch (reply.outcome) {
    case GrantReply::kReused:
      return ErrorWithReason(
          absl::StatusCode::kFailedPrecondition, "IDEMPOTENCY_KEY_REUSED",
          "this idempotency key was already used with a different request");
    case GrantReply::kNoMember:
      return ErrorWithReason(absl::StatusCode::kNotFound, "MEMBER_NOT_FOUND",
                             "the member is not recorded");
    case GrantReply::kNoOrder:
      return ErrorWithReason(absl::StatusCode::kNotFound, "ORDER_NOT_FOUND",
                             "the order is not recorded for this member");
    case GrantReply::kNotOwner:
      return ErrorWithReason(absl::StatusCode::kPermissionDenied,
                             "NOT_ORDER_MEMBER",
                             "the order belongs to another member");
    case GrantReply::kMemberBudget:
      return ErrorWithReason(
          absl::StatusCode::kFailedPrecondition, "MEMBER_BUDGET_EXCEEDED",
          absl::StrCat("the member's goodwill budget (30 days) has ",
                       reply.member_remaining, " left"));
    case GrantReply::kCeiling:
      return ErrorWithReason(
          absl::StatusCode::kFailedPrecondition, "ORDER_FULLY_REFUNDED",
          absl::StrCat("the order paid ", reply.total, " and ", reply.refunded,
                       " is already refunded: money back never exceeds what "
                       "was paid"));
    case GrantReply::kOk:
    case GrantReply::kReplay:
      break;
  }
  return absl::InternalError("grant_goodwill: a grant is not a refusal");
}

}  // namespace

// State shared by the steps of one call.
struct GoodwillFlow::Call {
  Done done;
  AgentBudgetRequest agent;  // The reservation; `operation` set per step.
  GrantRequest grant;
  makegood::v1::Refund refund;  // As written by a fresh grant.
};

void GoodwillFlow::Grant(absl::string_view caller,
                         const makegood::v1::GrantGoodwillRequest& request,
                         Done done) {
  const policy::PolicyConfig& config = policy_.Get()->engine->config();
  if (!policy::Serves(config, request.currency())) {
    done(ErrorWithReason(
        absl::StatusCode::kFailedPrecondition, "CURRENCY_NOT_SUPPORTED",
        absl::StrCat("goodwill is granted in ",
                     absl::StrJoin(policy::ServedCurrencies(config), ", "),
                     ", the policy's currencies")));
    return;
  }

  const absl::Time now = clock_.Now();
  const int64_t day = rating::DayNumber(now);
  const int partition = keys_.PartitionOf(request.member_id());
  rating::RatingIds ids =
      rating::DeriveRatingIds(caller, "GrantGoodwill", request.member_id(),
                              request.idempotency_key(), partition);
  auto call = std::make_shared<Call>();
  call->done = std::move(done);

  AgentBudgetRequest& agent = call->agent;
  agent.operation = AgentBudgetRequest::kReserve;
  agent.budget_key = keys_.AgentBudgetKey(request.agent_id(), day);
  agent.grant_id = ids.refund_id;
  agent.amount = request.amount_minor();
  agent.daily_budget = options_.agent_daily_budget_minor;
  agent.ttl = absl::Hours(48);
  agent.token = NewToken();

  makegood::v1::Refund& refund = call->refund;
  refund.set_refund_id(ids.refund_id);
  refund.set_order_id(request.order_id());
  refund.set_member_id(request.member_id());
  refund.set_amount_minor(request.amount_minor());
  refund.set_currency(request.currency());
  refund.set_instrument(request.instrument());
  refund.set_state(makegood::v1::REFUND_STATE_ACCEPTED);
  refund.mutable_created_at()->set_seconds(absl::ToUnixSeconds(now));
  *refund.mutable_updated_at() = refund.created_at();
  refund.set_state_reason("goodwill");

  GrantRequest& grant = call->grant;
  grant.keys = GrantKeys::For(keys_, request.member_id(), request.order_id(),
                              ids.refund_id);
  grant.fingerprint = Fingerprint(request);
  grant.now_ms = absl::ToUnixMillis(now);
  grant.refund_id = ids.refund_id;
  grant.amount = request.amount_minor();
  grant.currency = request.currency();
  grant.instrument = std::string(store::InstrumentName(request.instrument()));
  grant.member_budget = options_.member_budget_minor;
  grant.day = day;
  grant.agent_id = request.agent_id();
  grant.caller = std::string(caller);
  grant.reason = request.reason();
  grant.note = request.note();
  grant.order_id = request.order_id();
  grant.refund_bytes = refund.SerializeAsString();
  grant.member_id = request.member_id();
  // grant.agent_remaining is known after step 1.

  redis_.Eval(scripts::kGoodwillAgent, agent.Keys(), agent.Args(),
              [this, call](absl::StatusOr<RedisReply> reserved) {
                OnReserved(call, std::move(reserved));
              });
}

void GoodwillFlow::OnReserved(std::shared_ptr<Call> call,
                              absl::StatusOr<RedisReply> reserved) {
  if (!reserved.ok()) {
    call->done(reserved.status());
    return;
  }
  absl::StatusOr<AgentBudgetReply> reply = ParseAgentBudgetReply(*reserved);
  if (!reply.ok()) {
    call->done(reply.status());
    return;
  }
  const int64_t agent_remaining =
      options_.agent_daily_budget_minor - reply->spent;
  if (reply->outcome == AgentBudgetReply::kRefused) {
    call->done(ErrorWithReason(
        absl::StatusCode::kFailedPrecondition, "AGENT_BUDGET_EXCEEDED",
        absl::StrCat("the agent's goodwill budget for today has ",
                     agent_remaining, " left")));
    return;
  }
  call->grant.agent_remaining = agent_remaining;
  redis_.Eval(scripts::kGrantGoodwill, call->grant.Keys(), call->grant.Args(),
              [this, call](absl::StatusOr<RedisReply> granted) {
                OnGranted(call, std::move(granted));
              });
}

void GoodwillFlow::OnGranted(std::shared_ptr<Call> call,
                             absl::StatusOr<RedisReply> granted) {
  if (!granted.ok()) {
    // It may have run: a retry with the same key replays it and confirms the
    // reservation; until then the reservation stays (never under-counted).
    call->done(granted.status());
    return;
  }
  absl::StatusOr<GrantReply> reply = ParseGrantReply(*granted);
  if (!reply.ok()) {
    Refuse(call, reply.status());
    return;
  }
  makegood::v1::GrantGoodwillResponse out;
  switch (reply->outcome) {
    case GrantReply::kOk:
      out.set_agent_budget_remaining_minor(call->grant.agent_remaining);
      out.set_member_budget_remaining_minor(reply->member_remaining);
      *out.mutable_refund() = call->refund;
      AgentBudget(call, AgentBudgetRequest::kConfirm,
                  [call, out = std::move(out)]() mutable {
                    call->done(std::move(out));
                  });
      return;
    case GrantReply::kReplay: {
      out.set_replayed(true);
      out.set_agent_budget_remaining_minor(reply->agent_remaining);
      out.set_member_budget_remaining_minor(reply->member_remaining);
      if (!out.mutable_refund()->ParseFromString(reply->refund_bytes)) {
        call->done(absl::DataLossError("stored goodwill does not parse"));
        return;
      }
      // Granted today: the reservation is the grant's (confirming heals one a
      // refused twin released). Granted on another day: what this request
      // reserved today is not spent.
      const bool today = reply->grant_day == call->grant.day;
      AgentBudget(
          call,
          today ? AgentBudgetRequest::kConfirm : AgentBudgetRequest::kRelease,
          [call, out = std::move(out)]() mutable {
            call->done(std::move(out));
          });
      return;
    }
    default:
      Refuse(call, Refusal(*reply));
  }
}

void GoodwillFlow::Refuse(std::shared_ptr<Call> call, absl::Status status) {
  // A no-op when the reservation is another request's, or already the
  // grant's.
  AgentBudget(call, AgentBudgetRequest::kRelease,
              [call, status = std::move(status)]() mutable {
                call->done(std::move(status));
              });
}

void GoodwillFlow::AgentBudget(std::shared_ptr<Call> call,
                               AgentBudgetRequest::Operation operation,
                               absl::AnyInvocable<void()> then) {
  AgentBudgetRequest request = call->agent;
  request.operation = operation;
  redis_.Eval(scripts::kGoodwillAgent, request.Keys(), request.Args(),
              [call, operation, then = std::move(then)](
                  absl::StatusOr<RedisReply> reply) mutable {
                absl::Status status = reply.status();
                if (status.ok())
                  status = ParseAgentBudgetReply(*reply).status();
                if (!status.ok()) {
                  Log(LogLevel::kWarning, "goodwill_agent_budget_not_updated",
                      {{"grant_id", call->grant.refund_id},
                       {"operation", std::string(OperationName(operation))},
                       {"error", status.ToString()}});
                }
                then();
              });
}

}  // namespace makegood::goodwill
