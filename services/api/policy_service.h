// File: services/api/policy_service.h
//
// makegood.v1.PolicyService: read the active policy and validate candidates.
// SimulatePolicy belongs to the policy engine and answers UNIMPLEMENTED until
// it lands.
//
// Thread-safety: thread-safe; handlers do no I/O.
#pragma once

#include "makegood/v1/policy_service.grpc.pb.h"
#include "services/core/clock.h"
#include "services/policy_file/policy_document.h"

namespace makegood::api {

class PolicyService final
    : public makegood::v1::PolicyService::CallbackService {
 public:
  // Does not take ownership; `policy` must outlive the service.
  explicit PolicyService(const policy_file::ActivePolicy& policy)
      : policy_(policy) {}

  grpc::ServerUnaryReactor* GetPolicy(
      grpc::CallbackServerContext* context,
      const makegood::v1::GetPolicyRequest* request,
      makegood::v1::GetPolicyResponse* response) override;

  grpc::ServerUnaryReactor* ValidatePolicy(
      grpc::CallbackServerContext* context,
      const makegood::v1::ValidatePolicyRequest* request,
      makegood::v1::ValidatePolicyResponse* response) override;

 private:
  const policy_file::ActivePolicy& policy_;
};

}  // namespace makegood::api
