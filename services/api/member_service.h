// File: services/api/member_service.h
//
// makegood.v1.MemberService: member profiles. GetTrust belongs to the policy
// engine and answers UNIMPLEMENTED until it lands.
//
// Thread-safety: thread-safe; handlers never block.
#pragma once

#include "makegood/v1/member_service.grpc.pb.h"
#include "services/core/clock.h"
#include "services/policy_file/policy_document.h"
#include "services/store/member_store.h"

namespace makegood::api {

class MemberService final
    : public makegood::v1::MemberService::CallbackService {
 public:
  // Does not take ownership; all must outlive the service.
  MemberService(store::MemberStore& members,
                const policy_file::ActivePolicy& policy, const Clock& clock)
      : members_(members), policy_(policy), clock_(clock) {}

  grpc::ServerUnaryReactor* UpsertMember(
      grpc::CallbackServerContext* context,
      const makegood::v1::UpsertMemberRequest* request,
      makegood::v1::UpsertMemberResponse* response) override;

  grpc::ServerUnaryReactor* GetMember(
      grpc::CallbackServerContext* context,
      const makegood::v1::GetMemberRequest* request,
      makegood::v1::GetMemberResponse* response) override;

 private:
  store::MemberStore& members_;
  const policy_file::ActivePolicy& policy_;
  const Clock& clock_;
};

}  // namespace makegood::api
