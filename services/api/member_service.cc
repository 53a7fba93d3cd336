#include "services/api/member_service.h"

#include <utility>

#include "services/api/validation.h"
#include "services/errors/errors.h"

namespace makegood::api {

using makegood::v1::WriteResult;

grpc::ServerUnaryReactor* MemberService::UpsertMember(
    grpc::CallbackServerContext* context,
    const makegood::v1::UpsertMemberRequest* request,
    makegood::v1::UpsertMemberResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Violations violations;
  if (!request->has_member()) {
    violations.Add("member", "is required");
  } else {
    ValidateMember("member", request->member(), *policy_.Get(), clock_.Now(),
                   violations);
  }
  if (!violations.empty()) {
    reactor->Finish(ToGrpcStatus(violations.ToStatus()));
    return reactor;
  }
  members_.UpsertMember(
      request->member(),
      [reactor, request, response](absl::StatusOr<WriteResult> result) {
        if (!result.ok()) {
          reactor->Finish(ToGrpcStatus(result.status()));
          return;
        }
        *response->mutable_member() = request->member();
        response->set_result(*result);
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* MemberService::GetMember(
    grpc::CallbackServerContext* context,
    const makegood::v1::GetMemberRequest* request,
    makegood::v1::GetMemberResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Violations violations;
  ValidateId("member_id", request->member_id(), violations);
  if (!violations.empty()) {
    reactor->Finish(ToGrpcStatus(violations.ToStatus()));
    return reactor;
  }
  members_.GetMember(request->member_id(),
                     [reactor, response](absl::StatusOr<v1::Member> member) {
                       if (!member.ok()) {
                         reactor->Finish(ToGrpcStatus(member.status()));
                         return;
                       }
                       *response->mutable_member() = *std::move(member);
                       reactor->Finish(grpc::Status::OK);
                     });
  return reactor;
}

}  // namespace makegood::api
