#include "services/rating/rating_flow.h"

#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "makegood/storage/v1/records.pb.h"
#include "services/core/log.h"
#include "services/errors/errors.h"
#include "services/rating/conversions.h"
#include "services/rating/lua/scripts.h"
#include "services/rating/rating_ids.h"
#include "services/rating/snapshot.h"

namespace makegood::rating {
namespace {

using redis::RedisReply;

constexpr char kMethod[] = "SubmitRating";

// The decision event insights aggregate (see docs/ARCHITECTURE.md, "Event
// streams"): no member id, only what per store / courier / SKU statistics
// need. Each line gets its own satisfaction (its line rating, else the
// overall one) and a share of the refund proportional to its amount.
void AppendDecisionEvent(const std::string& rating_id, absl::Time now,
                         const makegood::v1::SubmitRatingRequest& request,
                         const makegood::v1::Order& order,
                         const policy::Decision& decision,
                         std::vector<std::string>& args) {
  int64_t refund_minor =
      decision.refund.has_value() &&
              decision.refund->instrument != policy::Instrument::kCoupon
          ? decision.refund->amount_minor
          : 0;
  std::vector<std::string> fields = {
      "rating_id",    rating_id,
      "at_ms",        absl::StrCat(absl::ToUnixMillis(now)),
      "satisfaction", absl::StrCat(request.satisfaction_percent()),
      "outcome",      std::string(policy::OutcomeName(decision.outcome)),
      "refund_minor", absl::StrCat(refund_minor),
      "currency",     order.currency(),
      "store_id",     order.store_id(),
      "courier_id",   order.courier_id(),
      "lines",        absl::StrCat(order.lines_size())};
  int64_t goods = 0;
  for (const auto& line : order.lines()) goods += line.amount_minor();
  for (int i = 0; i < order.lines_size(); ++i) {
    const auto& line = order.lines(i);
    int satisfaction = request.satisfaction_percent();
    for (const auto& rated : request.line_ratings()) {
      if (rated.line_id() == line.line_id()) {
        satisfaction = rated.satisfaction_percent();
      }
    }
    // Amounts are at most 10^12 minor units, so the product fits in double
    // precision well enough for a statistic; money never depends on it.
    int64_t share =
        goods > 0
            ? static_cast<int64_t>(static_cast<double>(refund_minor) *
                                   static_cast<double>(line.amount_minor()) /
                                   static_cast<double>(goods))
            : 0;
    fields.push_back(absl::StrCat("sku.", i));
    fields.push_back(line.sku());
    fields.push_back(absl::StrCat("sat.", i));
    fields.push_back(absl::StrCat(satisfaction));
    fields.push_back(absl::StrCat("refund.", i));
    fields.push_back(absl::StrCat(share));
  }
  args.push_back(absl::StrCat(fields.size()));
  for (auto& field : fields) args.push_back(std::move(field));
}

const char* FollowUpKindName(policy::FollowUpKind kind) {
  switch (kind) {
    case policy::FollowUpKind::kCourierFeedback:
      return "courier_feedback";
    case policy::FollowUpKind::kStoreFeedback:
      return "store_feedback";
    case policy::FollowUpKind::kManagerFollowUp:
      return "manager_follow_up";
    case policy::FollowUpKind::kSilentRecovery:
      return "silent_recovery";
  }
  return "unknown";
}

void AppendFollowUps(const policy::Decision& decision,
                     std::vector<std::string>& args) {
  args.push_back(absl::StrCat(decision.follow_ups.size()));
  for (const auto& follow_up : decision.follow_ups) {
    args.push_back(FollowUpKindName(follow_up.kind));
    args.push_back(follow_up.target_id);
    args.push_back(absl::StrJoin(follow_up.reason_codes, ","));
  }
}

std::string NewClaimToken() {
  thread_local absl::BitGen gen;
  return absl::StrCat(
      absl::Hex(absl::Uniform<uint64_t>(gen), absl::kZeroPad16),
      absl::Hex(absl::Uniform<uint64_t>(gen), absl::kZeroPad16));
}

std::string Ms(double ms) { return absl::StrCat(ms); }

int64_t CeilSeconds(int64_t ms) {
  return (std::max<int64_t>(ms, 0) + 999) / 1000;
}

std::string RatedLineIds(const makegood::v1::SubmitRatingRequest& request) {
  std::vector<std::string> ids;
  for (const auto& line : request.line_ratings()) ids.push_back(line.line_id());
  return absl::StrJoin(ids, " ");
}

RatingResult Failure(absl::Status status,
                     std::optional<RateLimitHeaders> headers = std::nullopt) {
  RatingResult result;
  result.status = std::move(status);
  result.rate_limit = std::move(headers);
  return result;
}

absl::Status KeyReusedError() {
  return ErrorWithReason(absl::StatusCode::kFailedPrecondition,
                         "IDEMPOTENCY_KEY_REUSED",
                         "this idempotency key was already used with a "
                         "different request; use a new key for a new rating");
}

RatingResult Success(makegood::v1::SubmitRatingResponse response,
                     std::optional<RateLimitHeaders> headers) {
  RatingResult result;
  result.response = std::move(response);
  result.rate_limit = std::move(headers);
  return result;
}

int64_t Int(const RedisReply& reply) {
  auto value = redis::ReplyInteger(reply, "admit");
  return value.ok() ? *value : 0;
}

}  // namespace

struct RatingFlow::Call {
  Call(const makegood::v1::SubmitRatingRequest& r, std::string c,
       absl::AnyInvocable<void(RatingResult)> d)
      : request(r), caller(std::move(c)), done(std::move(d)) {}

  const makegood::v1::SubmitRatingRequest& request;
  const std::string caller;
  absl::AnyInvocable<void(RatingResult)> done;

  absl::Time now;
  std::shared_ptr<const policy_file::PolicySnapshot> policy;
  MethodLimits limits;
  RatingIds ids;
  std::string fingerprint;
  std::string token;
  std::string idem_key, member_key, stats_key, order_key, member_limiter_key,
      rating_key;
  int attempts = 0;

  // Round trip 1 joins two replies; both callbacks run on the I/O thread,
  // the counter guards the handler thread's hand-off.
  std::atomic<int> pending{0};
  absl::StatusOr<RedisReply> admit;
  std::optional<absl::StatusOr<RedisReply>> client;
  std::optional<RateLimitHeaders> headers;
};

RatingFlow::RatingFlow(redis::RedisClient& redis, const store::KeySchema& keys,
                       const policy_file::ActivePolicy& policy,
                       const Clock& clock, RatingFlowOptions options,
                       const policy_file::ActivePolicy* shadow)
    : redis_(redis),
      keys_(keys),
      policy_(policy),
      clock_(clock),
      options_(std::move(options)),
      shadow_(shadow) {}

void RatingFlow::Submit(std::string caller,
                        const makegood::v1::SubmitRatingRequest* request,
                        absl::AnyInvocable<void(RatingResult)> done) {
  auto call =
      std::make_shared<Call>(*request, std::move(caller), std::move(done));
  call->now = clock_.Now();
  call->policy = policy_.Get();
  call->limits = options_.limits.For(kMethod);
  const std::string& member_id = request->member_id();
  call->ids =
      DeriveRatingIds(call->caller, kMethod, member_id,
                      request->idempotency_key(), keys_.PartitionOf(member_id));
  call->fingerprint = RequestFingerprint(*request);
  call->token = NewClaimToken();
  const std::string prefix = keys_.PartitionPrefix(call->ids.partition);
  call->idem_key = absl::StrCat(prefix, "idem:", call->ids.scope_hash);
  call->member_key = keys_.MemberKey(member_id);
  call->stats_key = keys_.MemberStatsKey(member_id);
  call->order_key = keys_.OrderKey(member_id, request->order_id());
  call->member_limiter_key = keys_.MemberLimiterKey(member_id);
  call->rating_key = absl::StrCat(prefix, "rating:", call->ids.rating_id);
  StartAttempt(std::move(call), /*first=*/true);
}

void RatingFlow::StartAttempt(std::shared_ptr<Call> call, bool first) {
  ++call->attempts;
  const LimitSpec& client = call->limits.client;
  const LimitSpec& member = call->limits.member;
  bool check_client = first && client.enabled();
  call->pending = check_client ? 2 : 1;
  if (check_client) {
    redis_.Eval(scripts::kRateLimit, {keys_.ClientLimiterKey(call->caller)},
                {Ms(client.interval_ms()), absl::StrCat(client.burst),
                 client.shadow ? "1" : "0"},
                [this, call](absl::StatusOr<RedisReply> reply) {
                  call->client = std::move(reply);
                  if (--call->pending == 0) OnAdmitted(call);
                });
  }
  redis_.Eval(
      scripts::kAdmitRating,
      {call->idem_key, call->member_key, call->stats_key, call->order_key,
       call->member_limiter_key, call->rating_key},
      {call->fingerprint, call->token,
       absl::StrCat(absl::ToInt64Milliseconds(options_.claim_lease)),
       absl::StrCat(absl::ToUnixMillis(call->now)), call->request.member_id(),
       member.enabled() ? Ms(member.interval_ms()) : "0",
       absl::StrCat(member.burst), member.shadow ? "1" : "0",
       absl::StrCat(absl::ToInt64Milliseconds(
           call->policy->engine->config().rating_window)),
       RatedLineIds(call->request)},
      [this, call](absl::StatusOr<RedisReply> reply) {
        call->admit = std::move(reply);
        if (--call->pending == 0) OnAdmitted(call);
      });
}

void RatingFlow::OnAdmitted(std::shared_ptr<Call> call) {
  const std::string& order_id = call->request.order_id();
  const std::string& member_id = call->request.member_id();
  if (!call->admit.ok()) {
    Finish(call, Failure(call->admit.status()));
    return;
  }
  auto elements = redis::ReplyArray(*call->admit, 1, "admit_rating");
  if (!elements.ok()) {
    Finish(call, Failure(elements.status()));
    return;
  }
  const std::vector<RedisReply>& admit = **elements;
  const std::string& tag = admit[0].str;

  if (tag == "REPLAY" && admit.size() >= 2) {
    RatingResult result;
    if (!result.response.ParseFromString(admit[1].str)) {
      result.status = absl::DataLossError("stored response does not parse");
    } else {
      result.response.set_replayed(true);
      replayed_.fetch_add(1, std::memory_order_relaxed);
    }
    Finish(call, std::move(result));
    return;
  }
  if (tag == "RECORDED" && admit.size() >= 2) {
    ReplayRecorded(call, admit[1].str);
    return;
  }
  if (tag == "REUSED") {
    Finish(call, Failure(KeyReusedError()));
    return;
  }
  if (tag == "INFLIGHT") {
    Finish(call, Failure(ErrorWithReason(
                     absl::StatusCode::kAborted, "IDEMPOTENCY_KEY_IN_FLIGHT",
                     "a request with this idempotency key is being processed; "
                     "retry shortly with the same key")));
    return;
  }
  if (tag == "LIMITED" && admit.size() >= 3) {
    limited_member_.fetch_add(1, std::memory_order_relaxed);
    RateLimitHeaders h{.limit = call->limits.member.burst,
                       .remaining = 0,
                       .reset_seconds = CeilSeconds(Int(admit[2])),
                       .retry_after_seconds = CeilSeconds(Int(admit[1])),
                       .scope = "member"};
    h.retry_after_seconds = std::max<int64_t>(h.retry_after_seconds, 1);
    Finish(
        call,
        Failure(ErrorWithReason(
                    absl::StatusCode::kResourceExhausted, "RATE_LIMITED",
                    absl::StrCat("too many ratings for member ", member_id,
                                 "; retry after ", h.retry_after_seconds, "s")),
                h));
    return;
  }
  if (tag == "NO_ORDER") {
    OnOrderMissing(call);
    return;
  }
  if (tag == "NOT_OWNER") {
    Finish(call, Failure(ErrorWithReason(
                     absl::StatusCode::kPermissionDenied, "NOT_ORDER_MEMBER",
                     absl::StrCat("member ", member_id,
                                  " is not the member of order ", order_id))));
    return;
  }
  if (tag == "NO_MEMBER") {
    Finish(call, Failure(ErrorWithReason(
                     absl::StatusCode::kFailedPrecondition, "MEMBER_NOT_FOUND",
                     absl::StrCat("member ", member_id,
                                  " is not recorded; record it with "
                                  "MemberService.UpsertMember first"))));
    return;
  }
  if (tag == "WINDOW_CLOSED") {
    Finish(call,
           Failure(ErrorWithReason(
               absl::StatusCode::kFailedPrecondition, "RATING_WINDOW_CLOSED",
               absl::StrCat("order ", order_id,
                            " can no longer be rated: the rating window of ",
                            absl::FormatDuration(
                                call->policy->engine->config().rating_window),
                            " after delivery has closed"))));
    return;
  }
  if (tag == "UNKNOWN_LINE" && admit.size() >= 2) {
    Violations violations;
    for (int i = 0; i < call->request.line_ratings_size(); ++i) {
      if (call->request.line_ratings(i).line_id() == admit[1].str) {
        violations.Add(absl::StrCat("line_ratings[", i, "].line_id"),
                       absl::StrCat("order ", order_id, " has no line \"",
                                    admit[1].str, "\""));
      }
    }
    Finish(call, Failure(violations.ToStatus()));
    return;
  }
  if (tag != "FRESH" || admit.size() < 10) {
    Finish(call, Failure(absl::InternalError(absl::StrCat(
                     "unexpected admit_rating reply \"", tag, "\""))));
    return;
  }

  // Fresh work. The member's limit (checked by admit, unless this is a retry
  // of our own claim) and the client's limit.
  RateLimitHeaders member_headers{.limit = call->limits.member.burst,
                                  .remaining = Int(admit[5]),
                                  .reset_seconds = CeilSeconds(Int(admit[6])),
                                  .retry_after_seconds = 0,
                                  .scope = "member"};
  if (Int(admit[7]) == 1) {
    shadow_member_.fetch_add(1, std::memory_order_relaxed);
    Log(LogLevel::kInfo, "rate_limit_shadow",
        {{"scope", "member"}, {"method", kMethod}});
  }
  if (call->limits.member.enabled() && member_headers.remaining >= 0) {
    call->headers = member_headers;
  }
  if (call->client.has_value()) {
    if (!call->client->ok()) {
      ReleaseAndFinish(call, call->client->status());
      return;
    }
    auto c = redis::ReplyArray(**call->client, 5, "rate_limit");
    if (!c.ok()) {
      ReleaseAndFinish(call, c.status());
      return;
    }
    const auto& v = **c;
    RateLimitHeaders client_headers{.limit = call->limits.client.burst,
                                    .remaining = Int(v[2]),
                                    .reset_seconds = CeilSeconds(Int(v[4])),
                                    .retry_after_seconds = 0,
                                    .scope = "client"};
    if (Int(v[0]) == 0) {
      limited_client_.fetch_add(1, std::memory_order_relaxed);
      client_headers.retry_after_seconds =
          std::max<int64_t>(CeilSeconds(Int(v[3])), 1);
      call->headers = client_headers;
      ReleaseAndFinish(
          call, ErrorWithReason(
                    absl::StatusCode::kResourceExhausted, "RATE_LIMITED",
                    absl::StrCat("too many ratings from this "
                                 "client; retry after ",
                                 client_headers.retry_after_seconds, "s")));
      return;
    }
    if (Int(v[1]) == 1) {
      shadow_client_.fetch_add(1, std::memory_order_relaxed);
      Log(LogLevel::kInfo, "rate_limit_shadow",
          {{"scope", "client"}, {"method", kMethod}});
    }
    if (!call->headers.has_value() ||
        client_headers.remaining < call->headers->remaining) {
      call->headers = client_headers;
    }
  }
  DecideAndCommit(call, admit);
}

void RatingFlow::ReplayRecorded(std::shared_ptr<Call> call,
                                const std::string& record_bytes) {
  makegood::storage::v1::RatingRecord record;
  if (!record.ParseFromString(record_bytes)) {
    Finish(call, Failure(absl::DataLossError("rating record does not parse")));
    return;
  }
  if (RequestFingerprint(record.request()) != call->fingerprint) {
    Finish(call, Failure(KeyReusedError()));
    return;
  }
  // The answer the first use of the key got: the rating id and its decision,
  // exactly as committed (the record keeps the decision it was answered).
  RatingResult result;
  result.response.set_rating_id(record.rating_id());
  *result.response.mutable_decision() = std::move(*record.mutable_decision());
  result.response.set_replayed(true);
  replayed_.fetch_add(1, std::memory_order_relaxed);
  Finish(call, std::move(result));
}

void RatingFlow::OnOrderMissing(std::shared_ptr<Call> call) {
  // Not in the member's partition: unknown, or another member's order.
  redis_.Command(
      {"GET", keys_.OrderOwnerKey(call->request.order_id())},
      [this, call](absl::StatusOr<RedisReply> owner) {
        if (!owner.ok()) {
          Finish(call, Failure(owner.status()));
          return;
        }
        const std::string& order_id = call->request.order_id();
        if (owner->is_text() && owner->str != call->request.member_id()) {
          Finish(call,
                 Failure(ErrorWithReason(
                     absl::StatusCode::kPermissionDenied, "NOT_ORDER_MEMBER",
                     absl::StrCat("member ", call->request.member_id(),
                                  " is not the member of order ", order_id))));
          return;
        }
        Finish(call, Failure(ErrorWithReason(
                         absl::StatusCode::kNotFound, "ORDER_NOT_FOUND",
                         absl::StrCat("order ", order_id,
                                      " is not recorded; record it with "
                                      "OrderService.RecordDelivery first"))));
      });
}

void RatingFlow::DecideAndCommit(std::shared_ptr<Call> call,
                                 const std::vector<RedisReply>& admit) {
  absl::StatusOr<AdmitSnapshot> snapshot =
      ParseAdmitSnapshot(admit[1], admit[2], admit[3], admit[4], call->now);
  if (!snapshot.ok()) {
    ReleaseAndFinish(call, snapshot.status());
    return;
  }
  // What the order already got in kind (coupons, lines sent again).
  snapshot->order_snapshot.coupon_granted_minor = Int(admit[8]);
  snapshot->order_snapshot.replaced_line_ids =
      absl::StrSplit(admit[9].str, ' ', absl::SkipEmpty());
  const policy::PolicyEngine& engine = *call->policy->engine;
  const policy::RatingInput rating = RatingFromProto(call->request);
  absl::StatusOr<policy::Decision> decision = engine.Decide(
      snapshot->member_snapshot, snapshot->order_snapshot, rating, call->now);
  if (!decision.ok()) {
    // The request is valid; what the policy refuses is the stored state
    // (another currency, a tier the policy lacks, a closed window).
    absl::Status status = decision.status();
    if (status.code() == absl::StatusCode::kInvalidArgument ||
        status.code() == absl::StatusCode::kFailedPrecondition) {
      status = ErrorWithReason(absl::StatusCode::kFailedPrecondition,
                               "POLICY_PRECONDITION", status.message());
    }
    ReleaseAndFinish(call, status);
    return;
  }
  if (shadow_ != nullptr) {
    Shadow(*call, snapshot->member_snapshot, snapshot->order_snapshot, rating,
           *decision);
  }

  const std::string& member_id = call->request.member_id();
  const std::string& order_id = call->request.order_id();
  std::optional<makegood::v1::Refund> refund;
  bool money = false;
  const char* instrument = "";
  if (decision->refund.has_value() && decision->refund->amount_minor > 0) {
    refund.emplace();
    refund->set_refund_id(call->ids.refund_id);
    refund->set_order_id(order_id);
    refund->set_member_id(member_id);
    refund->set_amount_minor(decision->refund->amount_minor);
    refund->set_currency(decision->refund->currency);
    refund->set_instrument(InstrumentToProto(decision->refund->instrument));
    refund->set_state(makegood::v1::REFUND_STATE_ACCEPTED);
    *refund->mutable_created_at() = ToTimestamp(call->now);
    *refund->mutable_updated_at() = ToTimestamp(call->now);
    refund->set_rating_id(call->ids.rating_id);
    refund->set_state_reason("decided");
    money = decision->refund->instrument != policy::Instrument::kCoupon;
    instrument = InstrumentName(decision->refund->instrument);
  }

  makegood::v1::SubmitRatingResponse response;
  response.set_rating_id(call->ids.rating_id);
  *response.mutable_decision() =
      DecisionToProto(*decision, refund.has_value() ? &*refund : nullptr);

  makegood::storage::v1::RatingRecord record;
  record.set_rating_id(call->ids.rating_id);
  record.set_caller(call->caller);
  *record.mutable_request() = call->request;
  *record.mutable_decision() = response.decision();
  *record.mutable_created_at() = ToTimestamp(call->now);
  *record.mutable_member() = snapshot->member;
  *record.mutable_order() = snapshot->order;
  *record.mutable_history() = HistoryToProto(snapshot->member_snapshot);
  record.set_order_refunded_before_minor(snapshot->order_refunded_minor);

  const std::string prefix = keys_.PartitionPrefix(call->ids.partition);
  bool store_budget = decision->instant_budget_used_minor > 0;
  std::vector<std::string> keys = {
      call->idem_key,
      call->stats_key,
      call->order_key,
      call->rating_key,
      absl::StrCat(prefix, "refund:", call->ids.refund_id),
      absl::StrCat(prefix, "refunds:m:", member_id),
      absl::StrCat(prefix, "refunds:o:", order_id),
      absl::StrCat(prefix, "ledger"),
      absl::StrCat(prefix, "ledger:balances"),
      absl::StrCat(prefix, "outbox"),
      absl::StrCat(prefix, "ratings:t"),
      absl::StrCat(prefix, "refund:", call->ids.refund_id, ":events"),
      absl::StrCat(prefix, "fu:feedback"),
      absl::StrCat(prefix, "fu:tasks"),
      absl::StrCat(prefix, "fu:notifications"),
      absl::StrCat(prefix, "decisions")};
  std::vector<std::string> args = {
      call->token,
      snapshot->stats_version,
      absl::StrCat(absl::ToUnixMillis(call->now)),
      response.SerializeAsString(),
      absl::StrCat(absl::ToInt64Milliseconds(options_.idempotency_ttl)),
      record.SerializeAsString(),
      absl::StrCat(refund.has_value() ? refund->amount_minor() : 0),
      money ? "1" : "0",
      refund.has_value() ? refund->SerializeAsString() : "",
      call->ids.refund_id,
      instrument,
      refund.has_value() ? refund->currency() : "",
      member_id,
      absl::StrCat(DayNumber(call->now)),
      decision->low_rating ? "1" : "0",
      store_budget ? "1" : "0",
      absl::StrCat(decision->instant_budget_after.balance_minor),
      absl::StrCat(absl::ToUnixMillis(decision->instant_budget_after.as_of)),
      absl::StrJoin(snapshot->expired_fields, " "),
      call->ids.rating_id,
      order_id,
      absl::StrCat(refund.has_value() && !money ? refund->amount_minor() : 0),
      absl::StrJoin(decision->replacement_line_ids, " "),
      snapshot->order.payment_reference().empty()
          ? order_id
          : snapshot->order.payment_reference(),
      absl::StrCat("policy:", decision->policy_version),
      absl::StrJoin(decision->reason_codes, ",")};
  AppendDecisionEvent(call->ids.rating_id, call->now, call->request,
                      snapshot->order, *decision, args);
  AppendFollowUps(*decision, args);
  redis_.Eval(scripts::kCommitRating, std::move(keys), std::move(args),
              [this, call, response = std::move(response)](
                  absl::StatusOr<RedisReply> reply) mutable {
                if (reply.ok()) {
                  auto tag = redis::ReplyArray(*reply, 1, "commit_rating");
                  if (tag.ok() && (**tag)[0].str == "OK") {
                    committed_.fetch_add(1, std::memory_order_relaxed);
                    Finish(call, Success(std::move(response), call->headers));
                    return;
                  }
                }
                OnCommitted(call, std::move(reply));
              });
}

void RatingFlow::Shadow(const Call& call, const policy::MemberSnapshot& member,
                        const policy::OrderSnapshot& order,
                        const policy::RatingInput& rating,
                        const policy::Decision& active) {
  std::shared_ptr<const policy_file::PolicySnapshot> candidate = shadow_->Get();
  absl::StatusOr<policy::Decision> shadow =
      candidate->engine->Decide(member, order, rating, call.now);
  shadow_evaluated_.fetch_add(1, std::memory_order_relaxed);
  auto money = [](const policy::Decision& d) -> int64_t {
    return d.refund.has_value() ? d.refund->amount_minor : 0;
  };
  if (shadow.ok() && shadow->outcome == active.outcome &&
      money(*shadow) == money(active) &&
      shadow->review_amount_minor == active.review_amount_minor) {
    return;
  }
  shadow_disagreements_.fetch_add(1, std::memory_order_relaxed);
  // Ids, outcomes and amounts only: no member data beyond the rating id.
  Log(LogLevel::kInfo, "shadow_policy_disagreement",
      {{"rating_id", call.ids.rating_id},
       {"active_version", active.policy_version},
       {"active_outcome", policy::OutcomeName(active.outcome)},
       {"active_refund_minor", money(active)},
       {"active_review_minor", active.review_amount_minor},
       {"active_reasons", absl::StrJoin(active.reason_codes, ",")},
       {"shadow_version", candidate->version},
       {"shadow_outcome",
        shadow.ok() ? policy::OutcomeName(shadow->outcome) : "error"},
       {"shadow_refund_minor", shadow.ok() ? money(*shadow) : int64_t{0}},
       {"shadow_review_minor",
        shadow.ok() ? shadow->review_amount_minor : int64_t{0}},
       {"shadow_reasons", shadow.ok()
                              ? absl::StrJoin(shadow->reason_codes, ",")
                              : std::string(shadow.status().message())}});
}

void RatingFlow::OnCommitted(std::shared_ptr<Call> call,
                             absl::StatusOr<RedisReply> reply) {
  if (!reply.ok()) {
    // The commit may or may not have run. If it did, the record is done and
    // the release leaves it alone; if not, the caller's retry may proceed.
    ReleaseAndFinish(call, reply.status());
    return;
  }
  auto elements = redis::ReplyArray(*reply, 1, "commit_rating");
  if (!elements.ok()) {
    ReleaseAndFinish(call, elements.status());
    return;
  }
  const auto& r = **elements;
  const std::string& tag = r[0].str;
  if (tag == "STALE") {
    if (call->attempts < options_.max_attempts) {
      stale_retries_.fetch_add(1, std::memory_order_relaxed);
      StartAttempt(call, /*first=*/false);
      return;
    }
    ReleaseAndFinish(
        call, ErrorWithReason(absl::StatusCode::kAborted, "CONCURRENT_UPDATE",
                              "the member's ratings kept changing while this "
                              "one was decided; retry with the same key"));
    return;
  }
  if (tag == "DONE") {
    // Committed already, by this request's twin or an earlier use of the key:
    // admitting again answers from what was stored, or refuses another
    // payload. The claim, if still ours, is released by that answer's path.
    if (call->attempts < options_.max_attempts) {
      StartAttempt(call, /*first=*/false);
      return;
    }
    ReleaseAndFinish(
        call, ErrorWithReason(absl::StatusCode::kAborted, "CONCURRENT_UPDATE",
                              "this idempotency key was answered while this "
                              "request was decided; retry with the same key"));
    return;
  }
  if (tag == "LOST_CLAIM") {
    Finish(call, Failure(ErrorWithReason(
                     absl::StatusCode::kAborted, "IDEMPOTENCY_KEY_IN_FLIGHT",
                     "the claim on this idempotency key lapsed before the "
                     "rating was committed; retry with the same key")));
    return;
  }
  if (tag == "CEILING") {
    Log(LogLevel::kError, "refund_ceiling_refused",
        {{"rating_id", call->ids.rating_id},
         {"refunded_minor", r.size() > 1 ? r[1].str : ""},
         {"total_minor", r.size() > 2 ? r[2].str : ""}});
    ReleaseAndFinish(
        call, ErrorWithReason(absl::StatusCode::kAborted, "CONCURRENT_UPDATE",
                              "the order changed while this rating was "
                              "decided; retry with the same key"));
    return;
  }
  ReleaseAndFinish(call, absl::InternalError(absl::StrCat(
                             "unexpected commit_rating reply \"", tag, "\"")));
}

void RatingFlow::ReleaseAndFinish(std::shared_ptr<Call> call,
                                  absl::Status status) {
  redis_.Eval(scripts::kReleaseRating, {call->idem_key}, {call->token},
              [this, call, status = std::move(status)](
                  absl::StatusOr<RedisReply> released) mutable {
                if (!released.ok()) {
                  Log(LogLevel::kWarning, "rating_claim_not_released",
                      {{"rating_id", call->ids.rating_id},
                       {"error", released.status().ToString()}});
                }
                Finish(call, Failure(std::move(status), call->headers));
              });
}

void RatingFlow::Finish(std::shared_ptr<Call> call, RatingResult result) {
  auto done = std::move(call->done);
  done(std::move(result));
}

RatingFlowStats RatingFlow::stats() const {
  return RatingFlowStats{
      .committed = committed_.load(std::memory_order_relaxed),
      .shadow_evaluated = shadow_evaluated_.load(std::memory_order_relaxed),
      .shadow_disagreements =
          shadow_disagreements_.load(std::memory_order_relaxed),
      .replayed = replayed_.load(std::memory_order_relaxed),
      .stale_retries = stale_retries_.load(std::memory_order_relaxed),
      .limited_member = limited_member_.load(std::memory_order_relaxed),
      .limited_client = limited_client_.load(std::memory_order_relaxed),
      .shadow_member = shadow_member_.load(std::memory_order_relaxed),
      .shadow_client = shadow_client_.load(std::memory_order_relaxed)};
}

}  // namespace makegood::rating
