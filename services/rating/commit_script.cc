#include "services/rating/commit_script.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/rating/snapshot.h"

namespace makegood::rating {
namespace {

constexpr char kScript[] = "commit_rating";

}  // namespace

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

ScriptCall BuildCommitCall(const store::KeySchema& keys,
                           CommitRequest request) {
  const int p = request.ids.partition;
  const std::string& refund_id = request.ids.refund_id;
  ScriptCall call;
  call.keys = {keys.IdempotencyKey(p, request.ids.scope_hash),
               keys.MemberStatsKey(request.member_id),
               keys.OrderKey(request.member_id, request.order_id),
               keys.RatingKey(p, request.ids.rating_id),
               keys.RefundKey(p, refund_id),
               keys.MemberRefundsKey(p, request.member_id),
               keys.OrderRefundsKey(p, request.order_id),
               keys.LedgerKey(p),
               keys.LedgerBalancesKey(p),
               keys.OutboxKey(p),
               keys.RatingsByTimeKey(p),
               keys.RefundEventsKey(p, refund_id),
               keys.FeedbackKey(p),
               keys.TasksKey(p),
               keys.NotificationsKey(p),
               keys.DecisionsKey(p),
               keys.OpenOrdersKey(p),
               keys.TroublesKey(p, request.member_id),
               keys.TroublesDueKey(p),
               keys.ArmsKey(p)};
  std::vector<std::string>& args = call.args;
  args = {std::move(request.token),
          std::move(request.stats_version),
          absl::StrCat(absl::ToUnixMillis(request.now)),
          std::move(request.response),
          absl::StrCat(absl::ToInt64Milliseconds(request.idempotency_ttl)),
          std::move(request.rating_record),
          absl::StrCat(request.refund_minor),
          request.money ? "1" : "0",
          std::move(request.refund),
          refund_id,
          std::move(request.instrument),
          std::move(request.currency),
          request.member_id,
          absl::StrCat(DayNumber(request.now)),
          request.low_rating ? "1" : "0",
          request.store_budget ? "1" : "0",
          absl::StrCat(request.budget_balance_minor),
          absl::StrCat(absl::ToUnixMillis(request.budget_as_of)),
          absl::StrJoin(request.expired_stats_fields, " "),
          request.ids.rating_id,
          request.order_id,
          absl::StrCat(request.coupon_minor),
          absl::StrJoin(request.replaced_line_ids, " "),
          std::move(request.payment_reference),
          std::move(request.actor),
          absl::StrJoin(request.reason_codes, ",")};
  args.reserve(args.size() + 7 + request.decision_event.size() +
               3 * request.follow_ups.size());
  // ARGV[27] D, then the decision event's D strings; then F, then F triples.
  args.push_back(absl::StrCat(request.decision_event.size()));
  for (std::string& field : request.decision_event) {
    args.push_back(std::move(field));
  }
  args.push_back(absl::StrCat(request.follow_ups.size()));
  for (const policy::FollowUp& follow_up : request.follow_ups) {
    args.push_back(FollowUpKindName(follow_up.kind));
    args.push_back(follow_up.target_id);
    args.push_back(absl::StrJoin(follow_up.reason_codes, ","));
  }
  const bool trouble = !request.trouble_record.empty();
  args.push_back(std::move(request.trouble_record));
  if (trouble) {
    args.push_back(std::move(request.trouble_due_member));
    args.push_back(absl::StrCat(request.trouble_first_close_ms));
  }
  args.push_back(std::move(request.arm));
  args.push_back(request.made_good_at_once ? "1" : "0");
  return call;
}

absl::StatusOr<CommitReply> ParseCommitReply(const redis::RedisReply& reply) {
  auto tagged = TaggedReply(reply, 1, kScript);
  if (!tagged.ok()) return tagged.status();
  const std::vector<redis::RedisReply>& e = **tagged;
  const std::string& tag = e[0].str;
  CommitReply out;
  if (tag == "OK") {
    out.answer = CommitAnswer::kOk;
  } else if (tag == "STALE") {
    out.answer = CommitAnswer::kStale;
  } else if (tag == "LOST_CLAIM") {
    out.answer = CommitAnswer::kLostClaim;
  } else if (tag == "DONE") {
    out.answer = CommitAnswer::kDone;
  } else if (tag == "CEILING") {
    out.answer = CommitAnswer::kCeiling;
    auto refunded = IntegerAt(e, 1, kScript, "CEILING refunded_minor");
    if (!refunded.ok()) return refunded.status();
    auto total = IntegerAt(e, 2, kScript, "CEILING total_minor");
    if (!total.ok()) return total.status();
    out.refunded_minor = *refunded;
    out.total_minor = *total;
  } else {
    return MalformedReply(kScript,
                          absl::StrCat("unknown answer \"", tag, "\""));
  }
  return out;
}

}  // namespace makegood::rating
