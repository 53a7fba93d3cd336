#include "services/store/member_state_store.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "services/store/lua/scripts.h"
#include "services/store/read_member_script.h"

namespace makegood::store {

void MemberStateStore::Read(
    std::string member_id,
    absl::AnyInvocable<void(absl::StatusOr<MemberState>)> done) {
  ScriptCall call =
      BuildReadMemberCall(keys_, ReadMemberRequest{.member_id = member_id});
  redis_.Eval(scripts::kReadMember, std::move(call.keys), std::move(call.args),
              [member_id = std::move(member_id), done = std::move(done)](
                  absl::StatusOr<redis::RedisReply> reply) mutable {
                if (!reply.ok()) {
                  done(reply.status());
                  return;
                }
                absl::StatusOr<ReadMemberReply> read =
                    ParseReadMemberReply(*std::move(reply));
                if (!read.ok()) {
                  done(read.status());
                  return;
                }
                if (!read->recorded) {
                  done(absl::NotFoundError(
                      absl::StrCat("member ", member_id, " is not recorded")));
                  return;
                }
                done(MemberState{.member_pb = std::move(read->member_pb),
                                 .stats = std::move(read->stats)});
              });
}

}  // namespace makegood::store
