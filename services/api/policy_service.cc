#include "services/api/policy_service.h"

#include <string>
#include <vector>

#include "google/protobuf/util/time_util.h"
#include "services/errors/errors.h"

namespace makegood::api {

grpc::ServerUnaryReactor* PolicyService::GetPolicy(
    grpc::CallbackServerContext* context,
    const makegood::v1::GetPolicyRequest* /*request*/,
    makegood::v1::GetPolicyResponse* response) {
  std::shared_ptr<const policy_file::PolicySnapshot> active = policy_.Get();
  *response->mutable_policy() = active->policy;
  response->set_version(active->version);
  *response->mutable_loaded_at() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
          absl::ToUnixNanos(active->loaded_at));
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* PolicyService::ValidatePolicy(
    grpc::CallbackServerContext* context,
    const makegood::v1::ValidatePolicyRequest* request,
    makegood::v1::ValidatePolicyResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  makegood::v1::Policy candidate;
  switch (request->candidate_case()) {
    case makegood::v1::ValidatePolicyRequest::kPolicy:
      candidate = request->policy();
      break;
    case makegood::v1::ValidatePolicyRequest::kPolicyText: {
      absl::StatusOr<makegood::v1::Policy> parsed =
          policy_file::ParsePolicyText(request->policy_text());
      if (!parsed.ok()) {
        // A policy that does not parse is a finding, not a failed call.
        response->set_valid(false);
        auto* violation = response->add_violations();
        violation->set_field("policy_text");
        violation->set_description(std::string(parsed.status().message()));
        reactor->Finish(grpc::Status::OK);
        return reactor;
      }
      candidate = *std::move(parsed);
      break;
    }
    default: {
      Violations violations;
      violations.Add("candidate", "set policy or policy_text");
      reactor->Finish(ToGrpcStatus(violations.ToStatus()));
      return reactor;
    }
  }
  std::vector<policy_file::PolicyViolation> found =
      policy_file::ValidatePolicy(candidate);
  response->set_valid(found.empty());
  if (found.empty()) {
    response->set_version(policy_file::PolicyVersion(candidate));
  }
  for (const auto& v : found) {
    auto* violation = response->add_violations();
    violation->set_field(v.field);
    violation->set_description(v.description);
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace makegood::api
