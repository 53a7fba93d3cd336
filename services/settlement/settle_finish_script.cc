#include "services/settlement/settle_finish_script.h"

#include <array>
#include <vector>

#include "absl/strings/str_cat.h"

namespace makegood::settlement {
namespace {

constexpr char kScript[] = "settle_finish";

const char* ResultName(SettleFinishResult result) {
  switch (result) {
    case SettleFinishResult::kSucceeded:
      return "succeeded";
    case SettleFinishResult::kDeclined:
      return "declined";
    case SettleFinishResult::kAttention:
      return "attention";
    case SettleFinishResult::kAck:
      return "ack";
  }
  return "ack";
}

constexpr std::array<SettleFinishAnswer, 5> kAnswers = {
    SettleFinishAnswer::kDone, SettleFinishAnswer::kAlready,
    SettleFinishAnswer::kNotFinal, SettleFinishAnswer::kDead,
    SettleFinishAnswer::kMissing};

}  // namespace

const char* SettleFinishAnswerName(SettleFinishAnswer answer) {
  switch (answer) {
    case SettleFinishAnswer::kDone:
      return "DONE";
    case SettleFinishAnswer::kAlready:
      return "ALREADY";
    case SettleFinishAnswer::kNotFinal:
      return "NOT_FINAL";
    case SettleFinishAnswer::kDead:
      return "DEAD";
    case SettleFinishAnswer::kMissing:
      return "MISSING";
  }
  return "MISSING";
}

ScriptCall BuildSettleFinishCall(const store::KeySchema& keys,
                                 const SettleFinishRequest& request) {
  const int p = request.partition;
  ScriptCall call;
  call.keys = {keys.RefundKey(p, request.refund_id),
               keys.RefundEventsKey(p, request.refund_id),
               keys.RefundFeedKey(p),
               keys.OutboxKey(p),
               keys.LedgerKey(p),
               keys.LedgerBalancesKey(p),
               keys.OrderKeyIn(p, request.order_id),
               keys.WalletKey(p, request.member_id),
               keys.NotificationsKey(p),
               keys.DeadOutboxKey(p),
               keys.TasksKey(p),
               keys.AttentionKey(p)};
  call.args = {absl::StrCat(absl::ToUnixMillis(request.now)),
               ResultName(request.result),
               request.provider_reference,
               request.reason,
               request.entry_id,
               request.group,
               request.fallback,
               request.actor,
               absl::StrCat(request.deliveries),
               request.entry};
  return call;
}

absl::StatusOr<SettleFinishReply> ParseSettleFinishReply(
    const redis::RedisReply& reply) {
  auto answer = TaggedReply(reply, 1, kScript);
  if (!answer.ok()) return answer.status();
  const std::vector<redis::RedisReply>& e = **answer;
  const std::string& tag = e[0].str;
  SettleFinishReply out;
  bool known = false;
  for (SettleFinishAnswer a : kAnswers) {
    if (tag == SettleFinishAnswerName(a)) {
      out.answer = a;
      known = true;
    }
  }
  if (!known) {
    return MalformedReply(kScript,
                          absl::StrCat("unknown answer \"", tag, "\""));
  }
  if (out.answer == SettleFinishAnswer::kDead ||
      out.answer == SettleFinishAnswer::kMissing) {
    return out;
  }
  auto state = TextAt(e, 1, kScript, absl::StrCat(tag, " state"));
  if (!state.ok()) return state.status();
  out.state = *std::move(state);
  if (out.answer != SettleFinishAnswer::kDone) return out;
  if (out.state != "SUCCEEDED" && out.state != "FAILED" &&
      out.state != "NEEDS_ATTENTION") {
    return MalformedReply(kScript,
                          absl::StrCat("DONE with state \"", out.state, "\""));
  }
  if (e.size() >= 3) {
    if (out.state != "SUCCEEDED" || !e[2].is_text() || e[2].str != "REVERSED") {
      return MalformedReply(kScript,
                            "DONE with a third element other than REVERSED "
                            "after SUCCEEDED");
    }
    out.reversed = true;
  }
  return out;
}

}  // namespace makegood::settlement
