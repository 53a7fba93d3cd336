#include "services/store/record_delivery_script.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/store/proto_codec.h"

namespace makegood::store {
namespace {

constexpr char kScript[] = "record_delivery";

}  // namespace

ScriptCall BuildRecordDeliveryCall(const KeySchema& keys,
                                   const RecordDeliveryRequest& request) {
  ScriptCall call;
  call.keys = {
      keys.OrderKey(request.member_id, request.order_id),
      keys.MemberStatsKey(request.member_id),
      keys.OpenOrdersKey(keys.PartitionOf(request.member_id)),
      keys.TroublesKey(keys.PartitionOf(request.member_id), request.member_id)};
  call.args = {request.member_id,
               request.order_pb,
               request.money_fingerprint,
               request.currency,
               absl::StrCat(request.total_minor),
               absl::StrCat(request.delivery_fee_minor),
               absl::StrCat(request.delivered_at_ms),
               absl::StrCat(absl::ToUnixMillis(request.now)),
               absl::StrJoin(request.line_ids, " "),
               request.payment_reference,
               absl::StrCat(request.rating_window_end_ms),
               request.order_id,
               absl::StrCat(absl::ToInt64Milliseconds(request.retention_day))};
  return call;
}

absl::StatusOr<RecordDeliveryReply> ParseRecordDeliveryReply(
    const redis::RedisReply& reply) {
  auto elements = TaggedReply(reply, 1, kScript);
  if (!elements.ok()) return elements.status();
  const std::vector<redis::RedisReply>& e = **elements;
  const std::string& tag = e[0].str;
  RecordDeliveryReply out;
  if (auto written = ParseWriteResult(tag); written.ok()) {
    out.answer = RecordDeliveryAnswer::kWritten;
    out.written = *written;
  } else if (tag == "MONEY_LOCKED") {
    out.answer = RecordDeliveryAnswer::kMoneyLocked;
  } else if (tag == "MEMBER_MISMATCH") {
    out.answer = RecordDeliveryAnswer::kMemberMismatch;
    // Lua drops a trailing false: an order hash without member_id answers
    // the tag alone.
    if (e.size() > 1) {
      auto stored = TextAt(e, 1, kScript, "MEMBER_MISMATCH stored_member_id");
      if (!stored.ok()) return stored.status();
      out.stored_member_id = *std::move(stored);
    }
  } else {
    return MalformedReply(kScript,
                          absl::StrCat("unknown answer \"", tag, "\""));
  }
  return out;
}

}  // namespace makegood::store
