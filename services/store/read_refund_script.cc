#include "services/store/read_refund_script.h"

#include <utility>

namespace makegood::store {
namespace {

constexpr char kScript[] = "read_refund";

}  // namespace

ScriptCall BuildReadRefundCall(const KeySchema& keys,
                               const ReadRefundRequest& request) {
  ScriptCall call;
  call.keys = {keys.RefundKey(request.partition, request.refund_id),
               keys.RefundEventsKey(request.partition, request.refund_id)};
  return call;
}

absl::StatusOr<ReadRefundReply> ParseReadRefundReply(
    const redis::RedisReply& reply) {
  auto elements = ArrayReply(reply, 0, kScript);
  if (!elements.ok()) return elements.status();
  const std::vector<redis::RedisReply>& e = **elements;
  ReadRefundReply out;
  if (e.empty()) return out;
  if (e.size() != 6) {
    return MalformedReply(kScript, "neither empty nor six elements");
  }
  std::string* fields[] = {&out.refund.pb,           &out.refund.state,
                           &out.refund.state_reason, &out.refund.updated_at_ms,
                           &out.refund.instrument,   &out.last_event_id};
  constexpr const char* kNames[] = {"pb",           "state",
                                    "state_reason", "updated_at_ms",
                                    "instrument",   "last_event_id"};
  for (size_t i = 0; i < e.size(); ++i) {
    auto text = TextAt(e, i, kScript, kNames[i]);
    if (!text.ok()) return text.status();
    *fields[i] = *std::move(text);
  }
  out.found = true;
  return out;
}

}  // namespace makegood::store
