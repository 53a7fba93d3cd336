#include "services/store/read_member_script.h"

#include <utility>

namespace makegood::store {
namespace {

constexpr char kScript[] = "read_member";

}  // namespace

ScriptCall BuildReadMemberCall(const KeySchema& keys,
                               const ReadMemberRequest& request) {
  ScriptCall call;
  call.keys = {keys.MemberKey(request.member_id),
               keys.MemberStatsKey(request.member_id)};
  return call;
}

absl::StatusOr<ReadMemberReply> ParseReadMemberReply(redis::RedisReply reply) {
  auto elements = ArrayReply(reply, 2, kScript);
  if (!elements.ok()) return elements.status();
  ReadMemberReply out;
  // Lua's false (no such member) arrives as nil.
  if (reply.elements[0].is_nil()) return out;
  if (!reply.elements[0].is_text()) {
    return MalformedReply(kScript, "member_pb is neither text nor nil");
  }
  if (reply.elements[1].type != redis::RedisReply::Type::kArray) {
    return MalformedReply(kScript, "stats is not an array");
  }
  out.recorded = true;
  out.member_pb = std::move(reply.elements[0]);
  out.stats = std::move(reply.elements[1]);
  return out;
}

}  // namespace makegood::store
