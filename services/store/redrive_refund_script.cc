#include "services/store/redrive_refund_script.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace makegood::store {
namespace {

constexpr char kScript[] = "redrive_refund";

}  // namespace

ScriptCall BuildRedriveRefundCall(const KeySchema& keys,
                                  const RedriveRefundRequest& request) {
  const int p = request.partition;
  ScriptCall call;
  call.keys = {keys.RefundKey(p, request.refund_id),
               keys.RefundEventsKey(p, request.refund_id),
               keys.RefundFeedKey(p), keys.OutboxKey(p), keys.AttentionKey(p)};
  call.args = {absl::StrCat(absl::ToUnixMillis(request.now)), request.actor,
               request.reason};
  return call;
}

absl::StatusOr<RedriveRefundReply> ParseRedriveRefundReply(
    const redis::RedisReply& reply) {
  auto elements = TaggedReply(reply, 1, kScript);
  if (!elements.ok()) return elements.status();
  const std::vector<redis::RedisReply>& e = **elements;
  const std::string& tag = e[0].str;
  RedriveRefundReply out;
  if (tag == "MISSING") {
    out.answer = RedriveRefundAnswer::kMissing;
    return out;
  }
  if (tag == "REDRIVEN") {
    out.answer = RedriveRefundAnswer::kRedriven;
    auto id = TextAt(e, 1, kScript, "REDRIVEN outbox entry id");
    if (!id.ok()) return id.status();
    out.outbox_entry_id = *std::move(id);
    return out;
  }
  if (tag == "IN_PROGRESS") {
    out.answer = RedriveRefundAnswer::kInProgress;
  } else if (tag == "NOT_REDRIVABLE") {
    out.answer = RedriveRefundAnswer::kNotRedrivable;
  } else {
    return MalformedReply(kScript,
                          absl::StrCat("unknown answer \"", tag, "\""));
  }
  auto state = TextAt(e, 1, kScript, absl::StrCat(tag, " state"));
  if (!state.ok()) return state.status();
  out.state = *std::move(state);
  return out;
}

}  // namespace makegood::store
