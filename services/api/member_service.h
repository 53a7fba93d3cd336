// File: services/api/member_service.h
//
// makegood.v1.MemberService: member profiles, and the member's trust as the
// active policy sees it (GetTrust: profile and stats read in one round trip,
// summed into the engine's MemberSnapshot exactly as SubmitRating does).
//
// Thread-safety: thread-safe; handlers never block.
#pragma once

#include "makegood/v1/member_service.grpc.pb.h"
#include "services/auth/authenticator.h"
#include "services/core/clock.h"
#include "services/policy_file/policy_document.h"
#include "services/store/member_state_store.h"
#include "services/store/member_store.h"

namespace makegood::api {

class MemberService final
    : public makegood::v1::MemberService::CallbackService {
 public:
  // Does not take ownership; all must outlive the service. GetTrust reads
  // through a store::MemberStateStore over `redis` and `keys`.
  MemberService(const auth::Authenticator& auth, store::MemberStore& members,
                redis::RedisClient& redis, const store::KeySchema& keys,
                const policy_file::ActivePolicy& policy, const Clock& clock)
      : auth_(auth),
        members_(members),
        member_states_(redis, keys),
        policy_(policy),
        clock_(clock) {}

  grpc::ServerUnaryReactor* UpsertMember(
      grpc::CallbackServerContext* context,
      const makegood::v1::UpsertMemberRequest* request,
      makegood::v1::UpsertMemberResponse* response) override;

  grpc::ServerUnaryReactor* GetMember(
      grpc::CallbackServerContext* context,
      const makegood::v1::GetMemberRequest* request,
      makegood::v1::GetMemberResponse* response) override;

  // The member's trust report under the active policy, now. INVALID_ARGUMENT
  // for a bad id; NOT_FOUND for a member never upserted; FAILED_PRECONDITION
  // if the member's tier is not in the active policy.
  grpc::ServerUnaryReactor* GetTrust(
      grpc::CallbackServerContext* context,
      const makegood::v1::GetTrustRequest* request,
      makegood::v1::GetTrustResponse* response) override;

 private:
  const auth::Authenticator& auth_;
  store::MemberStore& members_;
  store::MemberStateStore member_states_;
  const policy_file::ActivePolicy& policy_;
  const Clock& clock_;
};

}  // namespace makegood::api
