#include "services/retention/close_troubles_script.h"

#include "absl/strings/str_cat.h"
#include "services/retention/trouble.h"

namespace makegood::retention {
namespace {

constexpr char kScript[] = "close_troubles";

}  // namespace

store::ScriptCall BuildCloseTroublesCall(const store::KeySchema& keys,
                                         const CloseTroublesRequest& request) {
  const int p = request.partition;
  store::ScriptCall call;
  call.keys = {keys.TroublesDueKey(p), keys.RetentionKey(p)};
  call.args = {absl::StrCat(absl::ToUnixMillis(request.now)),
               absl::StrCat(absl::ToInt64Milliseconds(request.day))};
  for (const std::string& member : request.due) {
    std::optional<DueTrouble> due = ParseDueMember(member);
    if (!due.has_value()) continue;
    // The troubles hash stands for a key the trouble has none of (the
    // script does not read it then).
    const std::string troubles = keys.TroublesKey(p, due->member_id);
    call.keys.push_back(troubles);
    call.keys.push_back(
        due->refund_id.empty() ? troubles : keys.RefundKey(p, due->refund_id));
    call.keys.push_back(due->store_id.empty() ? troubles
                                              : keys.RetentionSubjectKey(
                                                    p, "store", due->store_id));
    call.keys.push_back(
        due->courier_id.empty()
            ? troubles
            : keys.RetentionSubjectKey(p, "courier", due->courier_id));
    call.args.push_back(member);
  }
  return call;
}

absl::StatusOr<CloseTroublesReply> ParseCloseTroublesReply(
    const redis::RedisReply& reply) {
  auto elements = store::ArrayReply(reply, 2, kScript);
  if (!elements.ok()) return elements.status();
  auto closed = store::IntegerAt(**elements, 0, kScript, "closed");
  if (!closed.ok()) return closed.status();
  auto skipped = store::IntegerAt(**elements, 1, kScript, "skipped");
  if (!skipped.ok()) return skipped.status();
  return CloseTroublesReply{.closed = *closed, .skipped = *skipped};
}

}  // namespace makegood::retention
