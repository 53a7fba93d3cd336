#include "services/api/member_service.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/api/validation.h"
#include "services/errors/errors.h"
#include "services/policy/markets.h"
#include "services/rating/conversions.h"
#include "services/rating/snapshot.h"
#include "services/rpc/unary_handler.h"

namespace makegood::api {
namespace {

// Fills `response` with the trust report of the stored member `state`.
// `currency` is served (checked before the read).
absl::Status TrustOf(const absl::StatusOr<store::MemberState>& state,
                     const policy_file::PolicySnapshot& policy,
                     const std::string& currency, absl::Time now,
                     makegood::v1::GetTrustResponse& response) {
  if (!state.ok()) return state.status();
  absl::StatusOr<rating::StoredMember> member =
      rating::MemberFromStored(state->member_pb, state->stats, now, currency);
  if (!member.ok()) return member.status();
  absl::StatusOr<policy::TrustReport> report =
      policy.engine->Trust(member->snapshot, currency, now);
  if (!report.ok()) {
    // FAILED_PRECONDITION (a tier the policy lacks) is the caller's to fix;
    // anything else means the stored history is inconsistent.
    if (report.status().code() == absl::StatusCode::kFailedPrecondition) {
      return report.status();
    }
    return absl::InternalError(
        absl::StrCat("trust of stored member: ", report.status().message()));
  }
  *response.mutable_trust() = rating::TrustReportToProto(*report);
  return absl::OkStatus();
}

}  // namespace

using makegood::v1::WriteResult;

grpc::ServerUnaryReactor* MemberService::UpsertMember(
    grpc::CallbackServerContext* context,
    const makegood::v1::UpsertMemberRequest* request,
    makegood::v1::UpsertMemberResponse* response) {
  return rpc::ServeUnary(
      auth_, context, "/makegood.v1.MemberService/UpsertMember",
      [this, request](Violations& violations) {
        if (!request->has_member()) {
          violations.Add("member", "is required");
        } else {
          ValidateMember("member", request->member(), *policy_.Get(),
                         clock_.Now(), violations);
        }
      },
      [this, request, response](const auth::Principal&, rpc::Finish finish) {
        members_.UpsertMember(
            request->member(),
            [request, response, finish](absl::StatusOr<WriteResult> result) {
              if (result.ok()) {
                *response->mutable_member() = request->member();
                response->set_result(*result);
              }
              finish(result.status());
            });
      });
}

grpc::ServerUnaryReactor* MemberService::GetMember(
    grpc::CallbackServerContext* context,
    const makegood::v1::GetMemberRequest* request,
    makegood::v1::GetMemberResponse* response) {
  return rpc::ServeUnary(
      auth_, context, "/makegood.v1.MemberService/GetMember",
      [request](Violations& violations) {
        ValidateId("member_id", request->member_id(), violations);
      },
      [this, request, response](const auth::Principal&, rpc::Finish finish) {
        members_.GetMember(
            request->member_id(),
            [response, finish](absl::StatusOr<v1::Member> member) {
              if (member.ok()) *response->mutable_member() = *std::move(member);
              finish(member.status());
            });
      });
}

grpc::ServerUnaryReactor* MemberService::GetTrust(
    grpc::CallbackServerContext* context,
    const makegood::v1::GetTrustRequest* request,
    makegood::v1::GetTrustResponse* response) {
  return rpc::ServeUnary(
      auth_, context, "/makegood.v1.MemberService/GetTrust",
      [request](Violations& violations) {
        ValidateId("member_id", request->member_id(), violations);
        if (!request->currency().empty()) {
          ValidateCurrency("currency", request->currency(), violations);
        }
      },
      [this, request, response](const auth::Principal&, rpc::Finish finish) {
        // The policy and time of the call, whatever happens while Redis
        // answers.
        std::shared_ptr<const policy_file::PolicySnapshot> policy =
            policy_.Get();
        const absl::Time now = clock_.Now();
        std::string currency =
            request->currency().empty()
                ? policy::PrimaryCurrency(policy->engine->config())
                : request->currency();
        // Refused before the read: no I/O for a currency not served.
        if (absl::StatusOr<const policy::PolicyConfig*> market =
                policy->engine->MarketConfig(currency);
            !market.ok()) {
          finish(ErrorWithReason(absl::StatusCode::kFailedPrecondition,
                                 "POLICY_PRECONDITION",
                                 market.status().message()));
          return;
        }
        member_states_.Read(
            request->member_id(),
            [response, finish, policy = std::move(policy),
             currency = std::move(currency),
             now](absl::StatusOr<store::MemberState> state) {
              finish(TrustOf(state, *policy, currency, now, *response));
            });
      });
}

}  // namespace makegood::api
