#include "services/store/member_store.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "services/store/lua/scripts.h"
#include "services/store/proto_codec.h"
#include "services/store/upsert_member_script.h"

namespace makegood::store {

using makegood::v1::Member;
using makegood::v1::WriteResult;

void MemberStore::UpsertMember(
    const Member& member,
    absl::AnyInvocable<void(absl::StatusOr<WriteResult>)> done) {
  using google::protobuf::util::TimeUtil;
  ScriptCall call = BuildUpsertMemberCall(
      keys_, UpsertMemberRequest{
                 .member_id = member.member_id(),
                 .member_pb = SerializeDeterministic(member),
                 .tier = member.tier(),
                 .member_since_ms =
                     TimeUtil::TimestampToMilliseconds(member.member_since()),
                 .flags = {member.flags().begin(), member.flags().end()},
                 .now = clock_.Now()});
  redis_.Eval(
      scripts::kUpsertMember, std::move(call.keys), std::move(call.args),
      [done =
           std::move(done)](absl::StatusOr<redis::RedisReply> reply) mutable {
        if (!reply.ok()) {
          done(reply.status());
          return;
        }
        done(ParseUpsertMemberReply(*reply));
      });
}

void MemberStore::GetMember(
    std::string member_id,
    absl::AnyInvocable<void(absl::StatusOr<Member>)> done) {
  redis_.Command({"HGET", keys_.MemberKey(member_id), "pb"},
                 [member_id, done = std::move(done)](
                     absl::StatusOr<redis::RedisReply> reply) mutable {
                   if (!reply.ok()) {
                     done(reply.status());
                     return;
                   }
                   if (reply->is_nil()) {
                     done(absl::NotFoundError(absl::StrCat(
                         "member ", member_id, " is not recorded")));
                     return;
                   }
                   Member member;
                   if (!member.ParseFromString(reply->str)) {
                     done(absl::DataLossError(absl::StrCat(
                         "stored member ", member_id, " does not parse")));
                     return;
                   }
                   done(std::move(member));
                 });
}

}  // namespace makegood::store
