#include "services/api/goodwill_service.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/api/caller.h"
#include "services/api/validation.h"
#include "services/core/log.h"
#include "services/core/text.h"
#include "services/errors/errors.h"
#include "services/rating/rating_ids.h"
#include "services/rating/snapshot.h"
#include "services/redis/redis_reply.h"
#include "services/store/lua/scripts.h"
#include "services/store/refund_store.h"

namespace makegood::api {
namespace {

using redis::RedisReply;

constexpr char kMethod[] = "/makegood.v1.GoodwillService/GrantGoodwill";

void Validate(const makegood::v1::GrantGoodwillRequest& r,
              Violations& violations) {
  if (!IsPrintableAscii(r.idempotency_key(), 1, 255)) {
    violations.Add("idempotency_key",
                   "must be 1-255 printable ASCII characters");
  }
  ValidateId("agent_id", r.agent_id(), violations);
  ValidateId("member_id", r.member_id(), violations);
  if (!r.order_id().empty()) ValidateId("order_id", r.order_id(), violations);
  if (r.amount_minor() <= 0 || r.amount_minor() > 1'000'000'000) {
    violations.Add("amount_minor", "must be 1-1000000000");
  }
  if (!IsCurrencyCode(r.currency())) {
    violations.Add("currency", "must be an ISO 4217 code such as \"EUR\"");
  }
  switch (r.instrument()) {
    case makegood::v1::INSTRUMENT_WALLET:
    case makegood::v1::INSTRUMENT_COUPON:
      break;
    case makegood::v1::INSTRUMENT_ORIGINAL_PAYMENT:
      if (r.order_id().empty()) {
        violations.Add("instrument",
                       "INSTRUMENT_ORIGINAL_PAYMENT needs the order_id whose "
                       "payment is refunded");
      }
      break;
    default:
      violations.Add("instrument",
                     "must be INSTRUMENT_WALLET, INSTRUMENT_COUPON or "
                     "INSTRUMENT_ORIGINAL_PAYMENT");
  }
  if (!IsLowerToken(r.reason(), 64)) {
    violations.Add("reason", "must be 1-64 characters of [a-z0-9_-]");
  }
  if (r.note().size() > GoodwillService::kMaxNoteLength) {
    violations.Add("note",
                   absl::StrCat("must be at most ",
                                GoodwillService::kMaxNoteLength, " bytes"));
  }
}

// Business fields, canonically: the idempotency key itself is not part.
std::string Fingerprint(const makegood::v1::GrantGoodwillRequest& r) {
  return rating::Sha256Hex(absl::StrCat(
      r.agent_id().size(), ":", r.agent_id(), "|", r.member_id().size(), ":",
      r.member_id(), "|", r.order_id().size(), ":", r.order_id(), "|",
      r.amount_minor(), "|", r.currency(), "|", r.instrument(), "|", r.reason(),
      "|", r.note().size(), ":", r.note()));
}

int64_t Int(const RedisReply& reply) {
  int64_t v = 0;
  (void)absl::SimpleAtoi(reply.str, &v);
  return v;
}

std::string NewToken() {
  thread_local absl::BitGen gen;
  return absl::StrCat(
      absl::Hex(absl::Uniform<uint64_t>(gen), absl::kZeroPad16),
      absl::Hex(absl::Uniform<uint64_t>(gen), absl::kZeroPad16));
}

}  // namespace

// State shared by the steps of one call.
struct GoodwillService::Grant {
  grpc::ServerUnaryReactor* reactor;
  makegood::v1::GrantGoodwillResponse* response;
  std::string agent_key;
  std::string refund_id;
  std::string token;  // Names this request's reservation, if it makes one.
  int64_t amount = 0;
  int64_t day = 0;
  makegood::v1::Refund refund;  // As written by a fresh grant.
};

void GoodwillService::AgentBudget(std::shared_ptr<Grant> grant,
                                  const char* operation,
                                  absl::AnyInvocable<void()> then) {
  redis_.Eval(
      store::scripts::kGoodwillAgent, {grant->agent_key},
      {operation, grant->refund_id, absl::StrCat(grant->amount),
       absl::StrCat(options_.agent_daily_budget_minor),
       absl::StrCat(absl::ToInt64Milliseconds(absl::Hours(48))), grant->token},
      [grant, operation,
       then = std::move(then)](absl::StatusOr<RedisReply> reply) mutable {
        if (!reply.ok()) {
          Log(LogLevel::kWarning, "goodwill_agent_budget_not_updated",
              {{"grant_id", grant->refund_id},
               {"operation", operation},
               {"error", reply.status().ToString()}});
        }
        then();
      });
}

grpc::ServerUnaryReactor* GoodwillService::GrantGoodwill(
    grpc::CallbackServerContext* context,
    const makegood::v1::GrantGoodwillRequest* request,
    makegood::v1::GrantGoodwillResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<auth::Principal> who = Admit(auth_, *context, reactor, kMethod);
  if (!who.has_value()) return reactor;
  Violations violations;
  Validate(*request, violations);
  if (!violations.empty()) {
    reactor->Finish(ToGrpcStatus(violations.ToStatus()));
    return reactor;
  }
  const std::string currency = policy_.Get()->policy.currency();
  if (request->currency() != currency) {
    reactor->Finish(ToGrpcStatus(ErrorWithReason(
        absl::StatusCode::kFailedPrecondition, "CURRENCY_NOT_SUPPORTED",
        absl::StrCat("goodwill is granted in ", currency,
                     ", the policy's "
                     "currency"))));
    return reactor;
  }

  const absl::Time now = clock_.Now();
  const int64_t day = rating::DayNumber(now);
  const int partition = keys_.PartitionOf(request->member_id());
  rating::RatingIds ids =
      rating::DeriveRatingIds(who->id, "GrantGoodwill", request->member_id(),
                              request->idempotency_key(), partition);
  auto grant = std::make_shared<Grant>();
  grant->reactor = reactor;
  grant->response = response;
  grant->refund_id = ids.refund_id;
  grant->token = NewToken();
  grant->amount = request->amount_minor();
  grant->day = day;
  grant->agent_key = keys_.AgentBudgetKey(request->agent_id(), day);

  makegood::v1::Refund refund;
  refund.set_refund_id(ids.refund_id);
  refund.set_order_id(request->order_id());
  refund.set_member_id(request->member_id());
  refund.set_amount_minor(request->amount_minor());
  refund.set_currency(request->currency());
  refund.set_instrument(request->instrument());
  refund.set_state(makegood::v1::REFUND_STATE_ACCEPTED);
  refund.mutable_created_at()->set_seconds(absl::ToUnixSeconds(now));
  *refund.mutable_updated_at() = refund.created_at();
  refund.set_state_reason("goodwill");

  const std::string prefix = keys_.PartitionPrefix(partition);
  std::vector<std::string> grant_keys = {
      keys_.MemberKey(request->member_id()),
      keys_.MemberStatsKey(request->member_id()),
      request->order_id().empty()
          ? absl::StrCat(prefix, "order:")
          : keys_.OrderKey(request->member_id(), request->order_id()),
      absl::StrCat(prefix, "refund:", ids.refund_id),
      absl::StrCat(prefix, "refunds:m:", request->member_id()),
      absl::StrCat(prefix, "refunds:o:", request->order_id()),
      absl::StrCat(prefix, "ledger"),
      absl::StrCat(prefix, "ledger:balances"),
      absl::StrCat(prefix, "outbox"),
      absl::StrCat(prefix, "refund:", ids.refund_id, ":events"),
      absl::StrCat(prefix, "goodwill"),
      absl::StrCat(prefix, "fu:notifications")};
  std::vector<std::string> grant_args = {
      Fingerprint(*request),
      absl::StrCat(absl::ToUnixMillis(now)),
      ids.refund_id,
      absl::StrCat(request->amount_minor()),
      request->currency(),
      std::string(store::InstrumentName(request->instrument())),
      absl::StrCat(options_.member_budget_minor),
      absl::StrCat(day),
      request->agent_id(),
      who->id,
      request->reason(),
      request->note(),
      request->order_id(),
      refund.SerializeAsString(),
      "",  // Agent budget remaining: known after step 1.
      request->member_id()};
  grant->refund = std::move(refund);

  redis_.Eval(
      store::scripts::kGoodwillAgent, {grant->agent_key},
      {"reserve", ids.refund_id, absl::StrCat(request->amount_minor()),
       absl::StrCat(options_.agent_daily_budget_minor),
       absl::StrCat(absl::ToInt64Milliseconds(absl::Hours(48))), grant->token},
      [this, grant, grant_keys = std::move(grant_keys),
       grant_args =
           std::move(grant_args)](absl::StatusOr<RedisReply> reserved) mutable {
        if (!reserved.ok()) {
          grant->reactor->Finish(ToGrpcStatus(reserved.status()));
          return;
        }
        auto r = redis::ReplyArray(*reserved, 2, "goodwill_agent");
        if (!r.ok()) {
          grant->reactor->Finish(ToGrpcStatus(r.status()));
          return;
        }
        const int64_t agent_remaining =
            options_.agent_daily_budget_minor - Int((**r)[1]);
        if ((**r)[0].str == "REFUSED") {
          grant->reactor->Finish(ToGrpcStatus(ErrorWithReason(
              absl::StatusCode::kFailedPrecondition, "AGENT_BUDGET_EXCEEDED",
              absl::StrCat("the agent's goodwill budget for today has ",
                           agent_remaining, " left"))));
          return;
        }
        grant_args[14] = absl::StrCat(agent_remaining);
        redis_.Eval(
            store::scripts::kGrantGoodwill, std::move(grant_keys),
            std::move(grant_args),
            [this, grant, agent_remaining](absl::StatusOr<RedisReply> granted) {
              OnGranted(grant, agent_remaining, std::move(granted));
            });
      });
  return reactor;
}

void GoodwillService::OnGranted(std::shared_ptr<Grant> grant,
                                int64_t agent_remaining,
                                absl::StatusOr<RedisReply> granted) {
  // A refusal gives this request's reservation back (a no-op when the
  // reservation is another request's, or already the grant's).
  auto refuse = [this, grant](absl::Status status) {
    AgentBudget(grant, "release", [grant, status = std::move(status)] {
      grant->reactor->Finish(ToGrpcStatus(status));
    });
  };
  if (!granted.ok()) {
    // It may have run: a retry with the same key replays it and confirms the
    // reservation; until then the reservation stays (never under-counted).
    grant->reactor->Finish(ToGrpcStatus(granted.status()));
    return;
  }
  auto g = redis::ReplyArray(*granted, 1, "grant_goodwill");
  if (!g.ok()) {
    refuse(g.status());
    return;
  }
  const auto& e = **g;
  const std::string& tag = e[0].str;
  makegood::v1::GrantGoodwillResponse& out = *grant->response;
  if (tag == "OK" && e.size() >= 2) {
    out.set_agent_budget_remaining_minor(agent_remaining);
    out.set_member_budget_remaining_minor(Int(e[1]));
    *out.mutable_refund() = grant->refund;
    AgentBudget(grant, "confirm",
                [grant] { grant->reactor->Finish(grpc::Status::OK); });
    return;
  }
  if (tag == "REPLAY" && e.size() >= 5) {
    out.set_replayed(true);
    out.set_agent_budget_remaining_minor(Int(e[2]));
    out.set_member_budget_remaining_minor(Int(e[3]));
    if (!out.mutable_refund()->ParseFromString(e[1].str)) {
      grant->reactor->Finish(
          ToGrpcStatus(absl::DataLossError("stored goodwill does not parse")));
      return;
    }
    // Granted today: the reservation is the grant's (confirming heals one a
    // refused twin released). Granted on another day: what this request
    // reserved today is not spent.
    const bool today = e[4].str == absl::StrCat(grant->day);
    AgentBudget(grant, today ? "confirm" : "release",
                [grant] { grant->reactor->Finish(grpc::Status::OK); });
    return;
  }
  if (tag == "REUSED") {
    refuse(ErrorWithReason(
        absl::StatusCode::kFailedPrecondition, "IDEMPOTENCY_KEY_REUSED",
        "this idempotency key was already used with a different request"));
  } else if (tag == "NO_MEMBER") {
    refuse(ErrorWithReason(absl::StatusCode::kNotFound, "MEMBER_NOT_FOUND",
                           "the member is not recorded"));
  } else if (tag == "NO_ORDER") {
    refuse(ErrorWithReason(absl::StatusCode::kNotFound, "ORDER_NOT_FOUND",
                           "the order is not recorded for this member"));
  } else if (tag == "NOT_OWNER") {
    refuse(ErrorWithReason(absl::StatusCode::kPermissionDenied,
                           "NOT_ORDER_MEMBER",
                           "the order belongs to another member"));
  } else if (tag == "MEMBER_BUDGET" && e.size() >= 2) {
    refuse(ErrorWithReason(
        absl::StatusCode::kFailedPrecondition, "MEMBER_BUDGET_EXCEEDED",
        absl::StrCat("the member's goodwill budget (30 days) has ", e[1].str,
                     " left")));
  } else if (tag == "CEILING" && e.size() >= 3) {
    refuse(ErrorWithReason(
        absl::StatusCode::kFailedPrecondition, "ORDER_FULLY_REFUNDED",
        absl::StrCat("the order paid ", e[2].str, " and ", e[1].str,
                     " is already refunded: money back never exceeds what was "
                     "paid")));
  } else {
    refuse(absl::InternalError(absl::StrCat("grant_goodwill answered ", tag)));
  }
}
}  // namespace makegood::api
