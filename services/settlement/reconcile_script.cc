#include "services/settlement/reconcile_script.h"

#include <array>
#include <vector>

#include "absl/strings/str_cat.h"

namespace makegood::settlement {
namespace {

constexpr char kScript[] = "reconcile_refund";

constexpr std::array<ReconcileRefundAnswer, 4> kAnswers = {
    ReconcileRefundAnswer::kReopened, ReconcileRefundAnswer::kNotSent,
    ReconcileRefundAnswer::kSkipped, ReconcileRefundAnswer::kMissing};

}  // namespace

const char* ReconcileRefundAnswerName(ReconcileRefundAnswer answer) {
  switch (answer) {
    case ReconcileRefundAnswer::kReopened:
      return "REOPENED";
    case ReconcileRefundAnswer::kNotSent:
      return "NOT_SENT";
    case ReconcileRefundAnswer::kSkipped:
      return "SKIPPED";
    case ReconcileRefundAnswer::kMissing:
      return "MISSING";
  }
  return "MISSING";
}

ScriptCall BuildReconcileRefundCall(const store::KeySchema& keys,
                                    const ReconcileRefundRequest& request) {
  const int p = request.partition;
  ScriptCall call;
  call.keys = {keys.RefundKey(p, request.refund_id),
               keys.RefundEventsKey(p, request.refund_id),
               keys.RefundFeedKey(p), keys.AttentionKey(p)};
  call.args = {absl::StrCat(absl::ToUnixMillis(request.now)), request.actor,
               request.reason};
  return call;
}

absl::StatusOr<ReconcileRefundReply> ParseReconcileRefundReply(
    const redis::RedisReply& reply) {
  auto answer = TaggedReply(reply, 1, kScript);
  if (!answer.ok()) return answer.status();
  const std::vector<redis::RedisReply>& e = **answer;
  const std::string& tag = e[0].str;
  ReconcileRefundReply out;
  bool known = false;
  for (ReconcileRefundAnswer a : kAnswers) {
    if (tag == ReconcileRefundAnswerName(a)) {
      out.answer = a;
      known = true;
    }
  }
  if (!known) {
    return MalformedReply(kScript,
                          absl::StrCat("unknown answer \"", tag, "\""));
  }
  if (out.answer == ReconcileRefundAnswer::kSkipped) {
    auto state = TextAt(e, 1, kScript, "SKIPPED state");
    if (!state.ok()) return state.status();
    out.state = *std::move(state);
  }
  return out;
}

}  // namespace makegood::settlement
