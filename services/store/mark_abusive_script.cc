#include "services/store/mark_abusive_script.h"

#include "absl/strings/str_cat.h"

namespace makegood::store {
namespace {

constexpr char kScript[] = "mark_abusive";

// A 0/1 element of the OK answer.
absl::StatusOr<bool> FlagAt(const std::vector<redis::RedisReply>& e,
                            size_t index, absl::string_view field) {
  auto value = IntegerAt(e, index, kScript, field);
  if (!value.ok()) return value.status();
  if (*value != 0 && *value != 1) {
    return MalformedReply(kScript, absl::StrCat(field, " is not 0 or 1"));
  }
  return *value == 1;
}

}  // namespace

ScriptCall BuildMarkAbusiveCall(const KeySchema& keys,
                                const MarkAbusiveRequest& request) {
  const int p = request.partition;
  ScriptCall call;
  call.keys = {keys.RefundKey(p, request.refund_id),
               keys.RefundEventsKey(p, request.refund_id),
               keys.RefundFeedKey(p),
               keys.RatingKey(p, request.rating_id),
               keys.FeedbackKey(p),
               keys.MemberStatsKey(request.member_id),
               keys.LedgerKey(p),
               keys.LedgerBalancesKey(p),
               keys.WalletKey(p, request.member_id),
               keys.ArmsKey(p)};
  call.args = {absl::StrCat(absl::ToUnixMillis(request.now)), request.actor,
               request.reason, Flag(request.reverse_refund)};
  return call;
}

absl::StatusOr<MarkAbusiveReply> ParseMarkAbusiveReply(
    const redis::RedisReply& reply) {
  auto elements = TaggedReply(reply, 1, kScript);
  if (!elements.ok()) return elements.status();
  const std::vector<redis::RedisReply>& e = **elements;
  const std::string& tag = e[0].str;
  MarkAbusiveReply out;
  if (tag == "MISSING") {
    out.answer = MarkAbusiveAnswer::kMissing;
  } else if (tag == "ALREADY") {
    out.answer = MarkAbusiveAnswer::kAlready;
  } else if (tag == "OK") {
    out.answer = MarkAbusiveAnswer::kMarked;
    auto feedback = IntegerAt(e, 1, kScript, "OK feedback_reversed");
    if (!feedback.ok()) return feedback.status();
    auto reversed = FlagAt(e, 2, "OK refund_reversed");
    if (!reversed.ok()) return reversed.status();
    auto pending = FlagAt(e, 3, "OK reversal_pending");
    if (!pending.ok()) return pending.status();
    out.feedback_reversed = *feedback;
    out.refund_reversed = *reversed;
    out.reversal_pending = *pending;
  } else {
    return MalformedReply(kScript,
                          absl::StrCat("unknown answer \"", tag, "\""));
  }
  return out;
}

}  // namespace makegood::store
