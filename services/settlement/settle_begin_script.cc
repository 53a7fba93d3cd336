#include "services/settlement/settle_begin_script.h"

#include <vector>

#include "absl/strings/str_cat.h"

namespace makegood::settlement {
namespace {

constexpr char kScript[] = "settle_begin";

}  // namespace

ScriptCall BuildSettleBeginCall(const store::KeySchema& keys,
                                const SettleBeginRequest& request) {
  const int p = request.partition;
  ScriptCall call;
  call.keys = {keys.RefundKey(p, request.refund_id),
               keys.RefundEventsKey(p, request.refund_id),
               keys.RefundFeedKey(p)};
  call.args = {absl::StrCat(absl::ToUnixMillis(request.now)),
               request.card_provider, request.actor};
  return call;
}

absl::StatusOr<SettleBeginReply> ParseSettleBeginReply(
    const redis::RedisReply& reply) {
  auto answer = TaggedReply(reply, 1, kScript);
  if (!answer.ok()) return answer.status();
  const std::vector<redis::RedisReply>& e = **answer;
  const std::string& tag = e[0].str;
  SettleBeginReply out;
  if (tag == "MISSING") {
    out.answer = SettleBeginAnswer::kMissing;
    return out;
  }
  if (tag == "FINAL") {
    out.answer = SettleBeginAnswer::kFinal;
    auto state = TextAt(e, 1, kScript, "FINAL state");
    if (!state.ok()) return state.status();
    out.state = *std::move(state);
    return out;
  }
  if (tag == "SETTLE") {
    out.answer = SettleBeginAnswer::kSettle;
  } else if (tag == "RESUME") {
    out.answer = SettleBeginAnswer::kResume;
  } else {
    return MalformedReply(kScript,
                          absl::StrCat("unknown answer \"", tag, "\""));
  }
  // {tag, provider, amount_minor, currency, instrument, member_id, order_id,
  //  payment_ref, attempts, created_at_ms}
  if (e.size() < 10) {
    return MalformedReply(
        kScript, absl::StrCat(tag, " with ", e.size(), " elements, not 10"));
  }
  struct Text {
    size_t index;
    const char* field;
    std::string* out;
  };
  for (const Text& t :
       {Text{1, "provider", &out.provider}, Text{3, "currency", &out.currency},
        Text{4, "instrument", &out.instrument},
        Text{5, "member_id", &out.member_id},
        Text{6, "order_id", &out.order_id},
        Text{7, "payment_ref", &out.payment_reference}}) {
    auto text = TextAt(e, t.index, kScript, t.field);
    if (!text.ok()) return text.status();
    *t.out = *std::move(text);
  }
  struct Integer {
    size_t index;
    const char* field;
    int64_t* out;
  };
  for (const Integer& i : {Integer{2, "amount_minor", &out.amount_minor},
                           Integer{8, "attempts", &out.attempts},
                           Integer{9, "created_at_ms", &out.created_at_ms}}) {
    auto value = IntegerAt(e, i.index, kScript, i.field);
    if (!value.ok()) return value.status();
    *i.out = *value;
  }
  return out;
}

}  // namespace makegood::settlement
