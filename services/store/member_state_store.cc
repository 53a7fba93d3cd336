#include "services/store/member_state_store.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "services/store/lua/scripts.h"

namespace makegood::store {

void MemberStateStore::Read(
    std::string member_id,
    absl::AnyInvocable<void(absl::StatusOr<MemberState>)> done) {
  std::vector<std::string> keys = {keys_.MemberKey(member_id),
                                   keys_.MemberStatsKey(member_id)};
  redis_.Eval(
      scripts::kReadMember, std::move(keys), {},
      [member_id = std::move(member_id), done = std::move(done)](
          absl::StatusOr<redis::RedisReply> reply) mutable {
        if (!reply.ok()) {
          done(reply.status());
          return;
        }
        absl::StatusOr<const std::vector<redis::RedisReply>*> parts =
            redis::ReplyArray(*reply, 2, "read_member");
        if (!parts.ok()) {
          done(parts.status());
          return;
        }
        // Lua's false arrives as nil.
        if (!(**parts)[0].is_text()) {
          done(absl::NotFoundError(
              absl::StrCat("member ", member_id, " is not recorded")));
          return;
        }
        if ((**parts)[1].type != redis::RedisReply::Type::kArray) {
          done(absl::InternalError("read_member: stats is not an array"));
          return;
        }
        done(MemberState{.member_pb = std::move(reply->elements[0]),
                         .stats = std::move(reply->elements[1])});
      });
}

}  // namespace makegood::store
