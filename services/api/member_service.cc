#include "services/api/member_service.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/api/validation.h"
#include "services/auth/admit.h"
#include "services/errors/errors.h"
#include "services/rating/conversions.h"
#include "services/rating/snapshot.h"

namespace makegood::api {

using makegood::v1::WriteResult;

grpc::ServerUnaryReactor* MemberService::UpsertMember(
    grpc::CallbackServerContext* context,
    const makegood::v1::UpsertMemberRequest* request,
    makegood::v1::UpsertMemberResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!auth::Admit(auth_, *context, reactor,
                   "/makegood.v1.MemberService/UpsertMember")) {
    return reactor;
  }
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
  if (!auth::Admit(auth_, *context, reactor,
                   "/makegood.v1.MemberService/GetMember")) {
    return reactor;
  }
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

grpc::ServerUnaryReactor* MemberService::GetTrust(
    grpc::CallbackServerContext* context,
    const makegood::v1::GetTrustRequest* request,
    makegood::v1::GetTrustResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!auth::Admit(auth_, *context, reactor,
                   "/makegood.v1.MemberService/GetTrust")) {
    return reactor;
  }
  Violations violations;
  ValidateId("member_id", request->member_id(), violations);
  if (!violations.empty()) {
    reactor->Finish(ToGrpcStatus(violations.ToStatus()));
    return reactor;
  }
  // The policy and time of the call, whatever happens while Redis answers.
  std::shared_ptr<const policy_file::PolicySnapshot> policy = policy_.Get();
  const absl::Time now = clock_.Now();
  member_states_.Read(
      request->member_id(), [reactor, response, policy = std::move(policy),
                             now](absl::StatusOr<store::MemberState> state) {
        if (!state.ok()) {
          reactor->Finish(ToGrpcStatus(state.status()));
          return;
        }
        absl::StatusOr<rating::StoredMember> member =
            rating::MemberFromStored(state->member_pb, state->stats, now);
        if (!member.ok()) {
          reactor->Finish(ToGrpcStatus(member.status()));
          return;
        }
        absl::StatusOr<policy::TrustReport> report =
            policy->engine->Trust(member->snapshot, now);
        if (!report.ok()) {
          // FAILED_PRECONDITION (a tier the policy lacks) is the caller's to
          // fix; anything else means the stored history is inconsistent.
          absl::Status status = report.status();
          if (status.code() != absl::StatusCode::kFailedPrecondition) {
            status = absl::InternalError(
                absl::StrCat("trust of stored member: ", status.message()));
          }
          reactor->Finish(ToGrpcStatus(status));
          return;
        }
        *response->mutable_trust() = rating::TrustReportToProto(*report);
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

}  // namespace makegood::api
