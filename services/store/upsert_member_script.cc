#include "services/store/upsert_member_script.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/store/proto_codec.h"

namespace makegood::store {
namespace {

constexpr char kScript[] = "upsert_member";

}  // namespace

ScriptCall BuildUpsertMemberCall(const KeySchema& keys,
                                 const UpsertMemberRequest& request) {
  ScriptCall call;
  call.keys = {keys.MemberKey(request.member_id)};
  call.args = {request.member_pb, request.tier,
               absl::StrCat(request.member_since_ms),
               absl::StrJoin(request.flags, " "),
               absl::StrCat(absl::ToUnixMillis(request.now))};
  return call;
}

absl::StatusOr<makegood::v1::WriteResult> ParseUpsertMemberReply(
    const redis::RedisReply& reply) {
  auto elements = TaggedReply(reply, 1, kScript);
  if (!elements.ok()) return elements.status();
  const std::string& tag = (**elements)[0].str;
  auto result = ParseWriteResult(tag);
  if (!result.ok()) {
    return MalformedReply(kScript,
                          absl::StrCat("unknown answer \"", tag, "\""));
  }
  return result;
}

}  // namespace makegood::store
