#include "services/rating/rating_flow.h"

#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "makegood/storage/v1/records.pb.h"
#include "services/core/log.h"
#include "services/errors/errors.h"
#include "services/rating/admit_script.h"
#include "services/rating/commit_script.h"
#include "services/rating/conversions.h"
#include "services/rating/decision_event_fields.h"
#include "services/rating/lua/scripts.h"
#include "services/rating/rate_limit_script.h"
#include "services/rating/rating_ids.h"
#include "services/rating/release_script.h"
#include "services/rating/snapshot.h"
#include "services/retention/trouble.h"

namespace makegood::rating {
namespace {

// Refund, wallet credit, coupon or replacement: settled in the answer.
bool MadeGoodAtOnce(policy::Outcome outcome) {
  return outcome == policy::Outcome::kRefund ||
         outcome == policy::Outcome::kWalletCredit ||
         outcome == policy::Outcome::kCoupon ||
         outcome == policy::Outcome::kReplacement;
}

using redis::RedisReply;

constexpr char kMethod[] = "SubmitRating";

std::string NewClaimToken() {
  thread_local absl::BitGen gen;
  return absl::StrCat(
      absl::Hex(absl::Uniform<uint64_t>(gen), absl::kZeroPad16),
      absl::Hex(absl::Uniform<uint64_t>(gen), absl::kZeroPad16));
}

int64_t CeilSeconds(int64_t ms) {
  return (std::max<int64_t>(ms, 0) + 999) / 1000;
}

std::vector<std::string> RatedLineIds(
    const makegood::v1::SubmitRatingRequest& request) {
  std::vector<std::string> ids;
  for (const auto& line : request.line_ratings()) ids.push_back(line.line_id());
  return ids;
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
  // The policy experiment arm deciding (""outside experiments).
  std::string arm;
  MethodLimits limits;
  RatingIds ids;
  std::string fingerprint;
  std::string token;
  int attempts = 0;

  // Round trip 1 joins two replies; both callbacks run on the I/O thread,
  // the counter guards the handler thread's hand-off.
  std::atomic<int> pending{0};
  absl::StatusOr<RedisReply> admit;
  // The client limit's answer, from a leased cell or from a lease.
  std::optional<absl::StatusOr<RateLimitReply>> client;
  std::optional<RateLimitHeaders> headers;
};

RatingFlow::RatingFlow(redis::RedisClient& redis, const store::KeySchema& keys,
                       const policy_file::ActivePolicy& policy,
                       const Clock& clock, RatingFlowOptions options,
                       const policy_file::ActivePolicy* shadow,
                       RatingObserver* observer,
                       const experiments::ExperimentSource* experiments)
    : redis_(redis),
      keys_(keys),
      policy_(policy),
      clock_(clock),
      options_(std::move(options)),
      shadow_(shadow),
      experiments_(experiments),
      observer_(observer != nullptr ? *observer : NoObserver()) {}

void RatingFlow::Submit(std::string caller,
                        const makegood::v1::SubmitRatingRequest* request,
                        absl::AnyInvocable<void(RatingResult)> done) {
  auto call =
      std::make_shared<Call>(*request, std::move(caller), std::move(done));
  call->now = clock_.Now();
  call->policy = policy_.Get();
  if (experiments_ != nullptr) {
    if (std::shared_ptr<const experiments::RunningExperiment> running =
            experiments_->Running()) {
      if (experiments::InCandidateArm(running->name, request->member_id(),
                                      running->candidate_share_bp)) {
        call->policy = running->candidate;
        call->arm = running->candidate_arm;
      } else {
        call->arm = running->control_arm;
      }
    }
  }
  call->limits = options_.limits.For(kMethod);
  const std::string& member_id = request->member_id();
  call->ids =
      DeriveRatingIds(call->caller, kMethod, member_id,
                      request->idempotency_key(), keys_.PartitionOf(member_id));
  call->fingerprint = RequestFingerprint(*request);
  call->token = NewClaimToken();
  StartAttempt(std::move(call), /*first=*/true);
}

void RatingFlow::StartAttempt(std::shared_ptr<Call> call, bool first) {
  ++call->attempts;
  const LimitSpec& client = call->limits.client;
  const LimitSpec& member = call->limits.member;
  bool lease_client = first && client.enabled();
  if (lease_client) {
    if (std::optional<RateLimitReply> taken =
            client_leases_.TryTake(call->caller, absl::Now())) {
      call->client = *taken;
      lease_client = false;
    }
  }
  call->pending = lease_client ? 2 : 1;
  if (lease_client) {
    ScriptCall limit = BuildRateLimitCall(
        keys_, RateLimitRequest{
                   .client_id = call->caller,
                   .interval_ms = client.interval_ms(),
                   .burst = client.burst,
                   .shadow = client.shadow,
                   .cells = client_leases_.BeginLease(call->caller, client)});
    redis_.Eval(
        scripts::kRateLimit, std::move(limit.keys), std::move(limit.args),
        [this, call](absl::StatusOr<RedisReply> reply) {
          // Granted cells join the replica's lease whatever the
          // admit script answers.
          absl::StatusOr<RateLimitReply> parsed =
              reply.ok()
                  ? ParseRateLimitReply(*reply)
                  : absl::StatusOr<RateLimitReply>(std::move(reply).status());
          if (parsed.ok()) {
            call->client =
                client_leases_.OnLeased(call->caller, *parsed, absl::Now());
          } else {
            client_leases_.OnLeaseFailed(call->caller);
            call->client = std::move(parsed).status();
          }
          if (--call->pending == 0) OnAdmitted(call);
        });
  }
  ScriptCall admit = BuildAdmitCall(
      keys_,
      AdmitRequest{
          .ids = call->ids,
          .member_id = call->request.member_id(),
          .order_id = call->request.order_id(),
          .fingerprint = call->fingerprint,
          .token = call->token,
          .claim_lease = options_.claim_lease,
          .now = call->now,
          .limiter_interval_ms = member.enabled() ? member.interval_ms() : 0,
          .limiter_burst = member.burst,
          .limiter_shadow = member.shadow,
          .rating_window = call->policy->engine->config().rating_window,
          .rated_line_ids = RatedLineIds(call->request)});
  redis_.Eval(scripts::kAdmitRating, std::move(admit.keys),
              std::move(admit.args),
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
  absl::StatusOr<AdmitReply> admit = ParseAdmitReply(*std::move(call->admit));
  if (!admit.ok()) {
    Finish(call, Failure(admit.status()));
    return;
  }

  switch (admit->answer) {
    case AdmitAnswer::kReplay: {
      RatingResult result;
      if (!result.response.ParseFromString(admit->stored)) {
        result.status = absl::DataLossError("stored response does not parse");
      } else {
        result.response.set_replayed(true);
        observer_.OnReplayed();
      }
      Finish(call, std::move(result));
      return;
    }
    case AdmitAnswer::kRecorded:
      ReplayRecorded(call, admit->stored);
      return;
    case AdmitAnswer::kReused:
      Finish(call, Failure(KeyReusedError()));
      return;
    case AdmitAnswer::kInFlight:
      Finish(call,
             Failure(ErrorWithReason(
                 absl::StatusCode::kAborted, "IDEMPOTENCY_KEY_IN_FLIGHT",
                 "a request with this idempotency key is being processed; "
                 "retry shortly with the same key")));
      return;
    case AdmitAnswer::kLimited: {
      observer_.OnRateLimited("member", /*enforced=*/true);
      RateLimitHeaders h{
          .limit = call->limits.member.burst,
          .remaining = 0,
          .reset_seconds = CeilSeconds(admit->reset_ms),
          .retry_after_seconds = CeilSeconds(admit->retry_after_ms),
          .scope = "member"};
      h.retry_after_seconds = std::max<int64_t>(h.retry_after_seconds, 1);
      Finish(call,
             Failure(ErrorWithReason(
                         absl::StatusCode::kResourceExhausted, "RATE_LIMITED",
                         absl::StrCat("too many ratings for member ", member_id,
                                      "; retry after ", h.retry_after_seconds,
                                      "s")),
                     h));
      return;
    }
    case AdmitAnswer::kNoOrder:
      OnOrderMissing(call);
      return;
    case AdmitAnswer::kNotOwner:
      Finish(call,
             Failure(ErrorWithReason(
                 absl::StatusCode::kPermissionDenied, "NOT_ORDER_MEMBER",
                 absl::StrCat("member ", member_id,
                              " is not the member of order ", order_id))));
      return;
    case AdmitAnswer::kNoMember:
      Finish(call,
             Failure(ErrorWithReason(
                 absl::StatusCode::kFailedPrecondition, "MEMBER_NOT_FOUND",
                 absl::StrCat("member ", member_id,
                              " is not recorded; record it with "
                              "MemberService.UpsertMember first"))));
      return;
    case AdmitAnswer::kWindowClosed:
      Finish(call,
             Failure(ErrorWithReason(
                 absl::StatusCode::kFailedPrecondition, "RATING_WINDOW_CLOSED",
                 absl::StrCat("order ", order_id,
                              " can no longer be rated: the rating window of ",
                              absl::FormatDuration(
                                  call->policy->engine->config().rating_window),
                              " after delivery has closed"))));
      return;
    case AdmitAnswer::kUnknownLine: {
      Violations violations;
      for (int i = 0; i < call->request.line_ratings_size(); ++i) {
        if (call->request.line_ratings(i).line_id() == admit->unknown_line_id) {
          violations.Add(absl::StrCat("line_ratings[", i, "].line_id"),
                         absl::StrCat("order ", order_id, " has no line \"",
                                      admit->unknown_line_id, "\""));
        }
      }
      Finish(call, Failure(violations.ToStatus()));
      return;
    }
    case AdmitAnswer::kFresh:
      break;
  }

  // Fresh work. The member's limit (checked by admit, unless this is a retry
  // of our own claim) and the client's limit.
  RateLimitHeaders member_headers{.limit = call->limits.member.burst,
                                  .remaining = admit->remaining,
                                  .reset_seconds = CeilSeconds(admit->reset_ms),
                                  .retry_after_seconds = 0,
                                  .scope = "member"};
  if (admit->would_reject) {
    observer_.OnRateLimited("member", /*enforced=*/false);
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
    const RateLimitReply* client = &**call->client;
    RateLimitHeaders client_headers{
        .limit = call->limits.client.burst,
        .remaining = client->remaining,
        .reset_seconds = CeilSeconds(client->reset_ms),
        .retry_after_seconds = 0,
        .scope = "client"};
    if (!client->allowed) {
      observer_.OnRateLimited("client", /*enforced=*/true);
      client_headers.retry_after_seconds =
          std::max<int64_t>(CeilSeconds(client->retry_after_ms), 1);
      call->headers = client_headers;
      ReleaseAndFinish(
          call, ErrorWithReason(
                    absl::StatusCode::kResourceExhausted, "RATE_LIMITED",
                    absl::StrCat("too many ratings from this "
                                 "client; retry after ",
                                 client_headers.retry_after_seconds, "s")));
      return;
    }
    if (client->would_reject) {
      observer_.OnRateLimited("client", /*enforced=*/false);
      Log(LogLevel::kInfo, "rate_limit_shadow",
          {{"scope", "client"}, {"method", kMethod}});
    }
    if (!call->headers.has_value() ||
        client_headers.remaining < call->headers->remaining) {
      call->headers = client_headers;
    }
  }
  DecideAndCommit(call, *std::move(admit));
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
  observer_.OnReplayed();
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

void RatingFlow::DecideAndCommit(std::shared_ptr<Call> call, AdmitReply admit) {
  absl::StatusOr<AdmitSnapshot> snapshot = ParseAdmitSnapshot(admit, call->now);
  if (!snapshot.ok()) {
    ReleaseAndFinish(call, snapshot.status());
    return;
  }
  // What the order already got in kind (coupons, lines sent again).
  snapshot->order_snapshot.coupon_granted_minor = admit.coupon_granted_minor;
  snapshot->order_snapshot.replaced_line_ids =
      std::move(admit.replaced_line_ids);
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
  record.set_arm(call->arm);

  const bool has_refund = refund.has_value();
  if (has_refund && refund->currency() != snapshot->order.currency()) {
    // The member's money is kept per currency, the order's: a refund in
    // another would be counted in the wrong one.
    ReleaseAndFinish(call,
                     absl::InternalError(absl::StrCat(
                         "the policy refunded ", refund->currency(),
                         " on an order in ", snapshot->order.currency())));
    return;
  }
  CommitRequest commit{
      .ids = call->ids,
      .member_id = member_id,
      .order_id = order_id,
      .token = call->token,
      .stats_version = snapshot->stats_version,
      .now = call->now,
      .response = response.SerializeAsString(),
      .idempotency_ttl = options_.idempotency_ttl,
      .rating_record = record.SerializeAsString(),
      .refund_minor = has_refund ? refund->amount_minor() : 0,
      .money = money,
      .refund = has_refund ? refund->SerializeAsString() : "",
      .instrument = instrument,
      .currency = snapshot->order.currency(),
      .payment_reference = snapshot->order.payment_reference().empty()
                               ? order_id
                               : snapshot->order.payment_reference(),
      .low_rating = decision->low_rating,
      .store_budget = decision->instant_budget_used_minor > 0,
      .budget_balance_minor = decision->instant_budget_after.balance_minor,
      .budget_as_of = decision->instant_budget_after.as_of,
      .expired_stats_fields = std::move(snapshot->expired_fields),
      .coupon_minor = has_refund && !money ? refund->amount_minor() : 0,
      .replaced_line_ids = decision->replacement_line_ids,
      .actor = absl::StrCat("policy:", decision->policy_version),
      .reason_codes = decision->reason_codes,
      .decision_event =
          DecisionEventFields(call->ids.rating_id, call->now, call->request,
                              snapshot->order, *decision),
      .follow_ups = decision->follow_ups,
      .trouble_record = "",
      .trouble_due_member = "",
      .trouble_first_close_ms = 0,
      .arm = call->arm,
      .made_good_at_once = MadeGoodAtOnce(decision->outcome)};
  if (std::optional<retention::Trouble> trouble = retention::TroubleOf(
          decision->trouble, call->request, response, snapshot->order,
          snapshot->member.tier(),
          call->arm.empty() ? retention::kNoArm : call->arm, call->now)) {
    commit.trouble_record = retention::TroubleRecord(*trouble);
    commit.trouble_due_member = retention::DueMember(*trouble);
    commit.trouble_first_close_ms =
        retention::FirstCloseMs(*trouble, options_.retention_day);
  }
  ScriptCall script = BuildCommitCall(keys_, std::move(commit));
  redis_.Eval(scripts::kCommitRating, std::move(script.keys),
              std::move(script.args),
              [this, call, response = std::move(response)](
                  absl::StatusOr<RedisReply> reply) mutable {
                OnCommitted(call, std::move(reply), std::move(response));
              });
}

void RatingFlow::Shadow(const Call& call, const policy::MemberSnapshot& member,
                        const policy::OrderSnapshot& order,
                        const policy::RatingInput& rating,
                        const policy::Decision& active) {
  std::shared_ptr<const policy_file::PolicySnapshot> candidate = shadow_->Get();
  absl::StatusOr<policy::Decision> shadow =
      candidate->engine->Decide(member, order, rating, call.now);
  auto money = [](const policy::Decision& d) -> int64_t {
    return d.refund.has_value() ? d.refund->amount_minor : 0;
  };
  if (shadow.ok() && shadow->outcome == active.outcome &&
      money(*shadow) == money(active) &&
      shadow->review_amount_minor == active.review_amount_minor) {
    observer_.OnShadowEvaluated(/*disagreed=*/false);
    return;
  }
  observer_.OnShadowEvaluated(/*disagreed=*/true);
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
                             absl::StatusOr<RedisReply> reply,
                             makegood::v1::SubmitRatingResponse response) {
  if (!reply.ok()) {
    // The commit may or may not have run. If it did, the record is done and
    // the release leaves it alone; if not, the caller's retry may proceed.
    ReleaseAndFinish(call, reply.status());
    return;
  }
  absl::StatusOr<CommitReply> commit = ParseCommitReply(*reply);
  if (!commit.ok()) {
    ReleaseAndFinish(call, commit.status());
    return;
  }
  switch (commit->answer) {
    case CommitAnswer::kOk:
      observer_.OnCommitted(response.decision());
      Finish(call, Success(std::move(response), call->headers));
      return;
    case CommitAnswer::kStale:
      if (call->attempts < options_.max_attempts) {
        observer_.OnStaleRetry();
        StartAttempt(call, /*first=*/false);
        return;
      }
      ReleaseAndFinish(
          call, ErrorWithReason(absl::StatusCode::kAborted, "CONCURRENT_UPDATE",
                                "the member's ratings kept changing while this "
                                "one was decided; retry with the same key"));
      return;
    case CommitAnswer::kDone:
      // Committed already, by this request's twin or an earlier use of the
      // key: admitting again answers from what was stored, or refuses
      // another payload. The claim, if still ours, is released by that
      // answer's path.
      if (call->attempts < options_.max_attempts) {
        StartAttempt(call, /*first=*/false);
        return;
      }
      ReleaseAndFinish(
          call,
          ErrorWithReason(absl::StatusCode::kAborted, "CONCURRENT_UPDATE",
                          "this idempotency key was answered while this "
                          "request was decided; retry with the same key"));
      return;
    case CommitAnswer::kLostClaim:
      Finish(call, Failure(ErrorWithReason(
                       absl::StatusCode::kAborted, "IDEMPOTENCY_KEY_IN_FLIGHT",
                       "the claim on this idempotency key lapsed before the "
                       "rating was committed; retry with the same key")));
      return;
    case CommitAnswer::kCeiling:
      Log(LogLevel::kError, "refund_ceiling_refused",
          {{"rating_id", call->ids.rating_id},
           {"refunded_minor", commit->refunded_minor},
           {"total_minor", commit->total_minor}});
      ReleaseAndFinish(
          call, ErrorWithReason(absl::StatusCode::kAborted, "CONCURRENT_UPDATE",
                                "the order changed while this rating was "
                                "decided; retry with the same key"));
      return;
  }
}

void RatingFlow::ReleaseAndFinish(std::shared_ptr<Call> call,
                                  absl::Status status) {
  ScriptCall release = BuildReleaseCall(
      keys_, ReleaseRequest{.ids = call->ids, .token = call->token});
  redis_.Eval(scripts::kReleaseRating, std::move(release.keys),
              std::move(release.args),
              [this, call, status = std::move(status)](
                  absl::StatusOr<RedisReply> released) mutable {
                absl::Status parsed =
                    released.ok() ? ParseReleaseReply(*released).status()
                                  : released.status();
                if (!parsed.ok()) {
                  Log(LogLevel::kWarning, "rating_claim_not_released",
                      {{"rating_id", call->ids.rating_id},
                       {"error", parsed.ToString()}});
                }
                Finish(call, Failure(std::move(status), call->headers));
              });
}

void RatingFlow::Finish(std::shared_ptr<Call> call, RatingResult result) {
  auto done = std::move(call->done);
  done(std::move(result));
}

RatingObserver& RatingFlow::NoObserver() {
  static RatingObserver* const none = new RatingObserver();
  return *none;
}

}  // namespace makegood::rating
