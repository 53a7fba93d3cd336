#include "services/store/refund_page_script.h"

#include "absl/strings/str_cat.h"

namespace makegood::store {
namespace {

constexpr char kScript[] = "refund_page";

}  // namespace

ScriptCall BuildRefundPageCall(const KeySchema& keys,
                               const RefundPageRequest& request) {
  ScriptCall call;
  call.keys = {request.index == RefundIndex::kMember
                   ? keys.MemberRefundsKey(request.partition, request.owner_id)
                   : keys.OrderRefundsKey(request.partition, request.owner_id)};
  call.args = {request.cursor_score, request.cursor_id,
               absl::StrCat(request.page_size)};
  return call;
}

absl::StatusOr<RefundPageReply> ParseRefundPageReply(
    const redis::RedisReply& reply) {
  return IndexEntriesOf(reply, kScript);
}

}  // namespace makegood::store
