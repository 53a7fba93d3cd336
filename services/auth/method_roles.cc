#include "services/auth/method_roles.h"

#include "absl/strings/str_cat.h"
#include "services/errors/errors.h"

namespace makegood::auth {
namespace {

constexpr Role kAppBackend = Role::kAppBackend;
constexpr Role kOrderSystem = Role::kOrderSystem;
constexpr Role kAgent = Role::kAgent;
constexpr Role kAdmin = Role::kAdmin;
constexpr Role kPartner = Role::kPartner;

// Constant-initialised and trivially destructible.
constexpr MethodRoles kTable[] = {
    {"/makegood.v1.OrderService/RecordDelivery", {kOrderSystem}},
    {"/makegood.v1.OrderService/GetOrder", {kOrderSystem}},
    {"/makegood.v1.MemberService/UpsertMember", {kOrderSystem}},
    {"/makegood.v1.MemberService/GetMember", {kOrderSystem, kAgent, kAdmin}},
    {"/makegood.v1.MemberService/GetTrust", {kAppBackend, kAgent, kAdmin}},
    {"/makegood.v1.RatingService/SubmitRating", {kAppBackend}},
    {"/makegood.v1.RefundService/GetRefund", {kAppBackend, kAgent, kAdmin}},
    {"/makegood.v1.RefundService/ListRefunds", {kAppBackend, kAgent, kAdmin}},
    {"/makegood.v1.RefundService/WatchRefund", {kAppBackend, kAgent, kAdmin}},
    {"/makegood.v1.RefundService/MarkRefundAbusive", {kAgent, kAdmin}},
    {"/makegood.v1.RefundService/ListRefundsNeedingAttention", {kAdmin}},
    {"/makegood.v1.RefundService/RedriveRefund", {kAdmin}},
    {"/makegood.v1.GoodwillService/GrantGoodwill", {kAgent}},
    {"/makegood.v1.InsightsService/GetSatisfactionStats", {kAgent, kAdmin}},
    {"/makegood.v1.InsightsService/GetRetentionStats", {kAgent, kAdmin}},
    {"/makegood.v1.FeedbackService/AppealFeedback", {kPartner}},
    {"/makegood.v1.FeedbackService/DecideAppeal", {kAgent, kAdmin}},
    {"/makegood.v1.FeedbackService/GetAppeal", {kPartner, kAgent, kAdmin}},
    {"/makegood.v1.PolicyService/GetPolicy", {kAdmin}},
    {"/makegood.v1.PolicyService/ValidatePolicy", {kAdmin}},
    {"/makegood.v1.PolicyService/SimulatePolicy", {kAdmin}},
    {"/makegood.v1.PolicyService/StartExperiment", {kAdmin}},
    {"/makegood.v1.PolicyService/GetExperiment", {kAdmin}},
    {"/makegood.v1.PolicyService/StopExperiment", {kAdmin}},
};

}  // namespace

absl::Span<const MethodRoles> MethodRoleTable() { return kTable; }

RoleSet AllowedRoles(absl::string_view full_method) {
  // ~15 rows: a linear scan is as fast as a hash lookup here.
  for (const MethodRoles& row : MethodRoleTable()) {
    if (row.method == full_method) return row.roles;
  }
  return RoleSet();
}

absl::Status CheckMethodAllowed(const Principal& principal,
                                absl::string_view full_method) {
  RoleSet allowed = AllowedRoles(full_method);
  if (allowed.empty()) {
    return ErrorWithReason(
        absl::StatusCode::kPermissionDenied, "METHOD_NOT_ALLOWED",
        absl::StrCat("method ", full_method,
                     " is not in the role table, so no caller may use it"));
  }
  if (!allowed.Intersects(principal.roles)) {
    std::string held = principal.roles.ToString();
    return ErrorWithReason(
        absl::StatusCode::kPermissionDenied, "ROLE_NOT_ALLOWED",
        absl::StrCat("caller \"", principal.id, "\" with roles [", held,
                     "] may not call ", full_method,
                     " (allowed roles: ", allowed.ToString(), ")"));
  }
  return absl::OkStatus();
}

}  // namespace makegood::auth
