#include "services/auth/method_roles.h"

#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "makegood/v1/feedback_service.pb.h"
#include "makegood/v1/goodwill_service.pb.h"
#include "makegood/v1/insights_service.pb.h"
#include "makegood/v1/member_service.pb.h"
#include "makegood/v1/order_service.pb.h"
#include "makegood/v1/policy_service.pb.h"
#include "makegood/v1/rating_service.pb.h"
#include "makegood/v1/refund_service.pb.h"
#include "services/errors/errors.h"

namespace makegood::auth {
namespace {

using ::testing::HasSubstr;

Principal With(RoleSet roles) {
  Principal principal;
  principal.id = "caller-1";
  principal.roles = roles;
  principal.kind = AuthKind::kJwt;
  return principal;
}

// The generated files of every makegood.v1 service.
std::vector<const google::protobuf::FileDescriptor*> ServiceFiles() {
  return {
      makegood::v1::AppealFeedbackRequest::descriptor()->file(),
      makegood::v1::GrantGoodwillRequest::descriptor()->file(),
      makegood::v1::GetSatisfactionStatsRequest::descriptor()->file(),
      makegood::v1::UpsertMemberRequest::descriptor()->file(),
      makegood::v1::RecordDeliveryRequest::descriptor()->file(),
      makegood::v1::GetPolicyRequest::descriptor()->file(),
      makegood::v1::SubmitRatingRequest::descriptor()->file(),
      makegood::v1::GetRefundRequest::descriptor()->file(),
  };
}

std::set<std::string> ProtoMethods() {
  std::set<std::string> methods;
  for (const google::protobuf::FileDescriptor* file : ServiceFiles()) {
    for (int s = 0; s < file->service_count(); ++s) {
      const google::protobuf::ServiceDescriptor* service = file->service(s);
      for (int m = 0; m < service->method_count(); ++m) {
        methods.insert(absl::StrCat("/", service->full_name(), "/",
                                    service->method(m)->name()));
      }
    }
  }
  return methods;
}

// Fail closed is only safe if nothing real is left out: a new RPC must get a
// row (or this test fails), not silently be denied in production.
TEST(MethodRoleTable, CoversEveryMethodOfEveryService) {
  std::set<std::string> methods = ProtoMethods();
  ASSERT_GE(methods.size(), 17u);
  EXPECT_EQ(methods.count("/makegood.v1.FeedbackService/AppealFeedback"), 1u);
  for (const std::string& method : methods) {
    EXPECT_FALSE(AllowedRoles(method).empty())
        << method << " has no row in the role table";
  }
}

TEST(MethodRoleTable, NamesOnlyMethodsThatExist) {
  // Rows for RPCs that are being added in parallel.
  const std::set<std::string> pending = {
      "/makegood.v1.RefundService/MarkRefundAbusive"};
  std::set<std::string> methods = ProtoMethods();
  for (const MethodRoles& row : MethodRoleTable()) {
    std::string method(row.method);
    EXPECT_TRUE(methods.count(method) > 0 || pending.count(method) > 0)
        << method << " is in the role table but not in the protos (typo?)";
    EXPECT_FALSE(row.roles.empty()) << method;
  }
}

struct Case {
  Role role;
  std::string method;
  bool allowed;
};

TEST(CheckMethodAllowed, EnforcesTheRolesOfTheIssue) {
  const std::string v1 = "/makegood.v1.";
  const std::vector<Case> cases = {
      // app-backend: rate, read refunds and trust.
      {Role::kAppBackend, v1 + "RatingService/SubmitRating", true},
      {Role::kAppBackend, v1 + "RefundService/GetRefund", true},
      {Role::kAppBackend, v1 + "RefundService/WatchRefund", true},
      {Role::kAppBackend, v1 + "MemberService/GetTrust", true},
      {Role::kAppBackend, v1 + "OrderService/RecordDelivery", false},
      {Role::kAppBackend, v1 + "GoodwillService/GrantGoodwill", false},
      {Role::kAppBackend, v1 + "PolicyService/GetPolicy", false},
      {Role::kAppBackend, v1 + "RefundService/MarkRefundAbusive", false},
      // order-system: record deliveries and members.
      {Role::kOrderSystem, v1 + "OrderService/RecordDelivery", true},
      {Role::kOrderSystem, v1 + "OrderService/GetOrder", true},
      {Role::kOrderSystem, v1 + "MemberService/UpsertMember", true},
      {Role::kOrderSystem, v1 + "MemberService/GetMember", true},
      {Role::kOrderSystem, v1 + "RatingService/SubmitRating", false},
      {Role::kOrderSystem, v1 + "RefundService/ListRefunds", false},
      {Role::kOrderSystem, v1 + "MemberService/GetTrust", false},
      // agent: goodwill, reads.
      {Role::kAgent, v1 + "GoodwillService/GrantGoodwill", true},
      {Role::kAgent, v1 + "RefundService/MarkRefundAbusive", true},
      {Role::kAgent, v1 + "InsightsService/GetSatisfactionStats", true},
      {Role::kAgent, v1 + "MemberService/GetMember", true},
      {Role::kAgent, v1 + "RatingService/SubmitRating", false},
      {Role::kAgent, v1 + "PolicyService/SimulatePolicy", false},
      {Role::kAgent, v1 + "MemberService/UpsertMember", false},
      // admin: policy, reads.
      {Role::kAdmin, v1 + "PolicyService/GetPolicy", true},
      {Role::kAdmin, v1 + "PolicyService/ValidatePolicy", true},
      {Role::kAdmin, v1 + "PolicyService/SimulatePolicy", true},
      {Role::kAdmin, v1 + "RefundService/ListRefunds", true},
      {Role::kAdmin, v1 + "GoodwillService/GrantGoodwill", false},
      {Role::kAdmin, v1 + "RatingService/SubmitRating", false},
      {Role::kAdmin, v1 + "OrderService/RecordDelivery", false},
      {Role::kAdmin, v1 + "FeedbackService/DecideAppeal", true},
      {Role::kAdmin, v1 + "FeedbackService/AppealFeedback", false},
      {Role::kAgent, v1 + "FeedbackService/DecideAppeal", true},
      {Role::kAgent, v1 + "FeedbackService/GetAppeal", true},
      {Role::kAgent, v1 + "FeedbackService/AppealFeedback", false},
      // partner: appeals feedback about itself, and nothing else.
      {Role::kPartner, v1 + "FeedbackService/AppealFeedback", true},
      {Role::kPartner, v1 + "FeedbackService/GetAppeal", true},
      {Role::kPartner, v1 + "FeedbackService/DecideAppeal", false},
      {Role::kPartner, v1 + "RatingService/SubmitRating", false},
      {Role::kPartner, v1 + "RefundService/GetRefund", false},
      {Role::kPartner, v1 + "RefundService/MarkRefundAbusive", false},
      {Role::kPartner, v1 + "InsightsService/GetSatisfactionStats", false},
      {Role::kPartner, v1 + "MemberService/GetMember", false},
      {Role::kAppBackend, v1 + "FeedbackService/AppealFeedback", false},
      {Role::kOrderSystem, v1 + "FeedbackService/GetAppeal", false},
  };
  for (const Case& c : cases) {
    absl::Status status = CheckMethodAllowed(With({c.role}), c.method);
    EXPECT_EQ(status.ok(), c.allowed) << RoleName(c.role) << " " << c.method;
    if (!c.allowed) {
      EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
      EXPECT_EQ(ErrorReason(status), "ROLE_NOT_ALLOWED");
    }
  }
}

TEST(CheckMethodAllowed, SaysWhichRolesWereNeeded) {
  absl::Status status = CheckMethodAllowed(
      With({Role::kOrderSystem}), "/makegood.v1.GoodwillService/GrantGoodwill");
  EXPECT_THAT(std::string(status.message()), HasSubstr("\"caller-1\""));
  EXPECT_THAT(std::string(status.message()), HasSubstr("[order-system]"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("allowed roles: agent"));
}

TEST(CheckMethodAllowed, AnyOneAllowedRoleIsEnough) {
  EXPECT_TRUE(CheckMethodAllowed(With({Role::kOrderSystem, Role::kAgent}),
                                 "/makegood.v1.GoodwillService/GrantGoodwill")
                  .ok());
}

TEST(CheckMethodAllowed, DeniesACallerWithoutRoles) {
  EXPECT_EQ(CheckMethodAllowed(With({}), "/makegood.v1.RefundService/GetRefund")
                .code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(CheckMethodAllowed, DeniesMethodsMissingFromTheTableEvenToEveryRole) {
  for (const char* method : {"/makegood.v1.RefundService/DeleteRefund",
                             "/makegood.v1.RatingService/SubmitRating/",
                             "makegood.v1.RatingService/SubmitRating",
                             "/grpc.health.v1.Health/Check", ""}) {
    absl::Status status = CheckMethodAllowed(With(RoleSet::All()), method);
    EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << method;
    EXPECT_EQ(ErrorReason(status), "METHOD_NOT_ALLOWED") << method;
  }
}

TEST(Roles, ParseAndFormatRoundTrip) {
  for (Role role : {Role::kAppBackend, Role::kOrderSystem, Role::kAgent,
                    Role::kAdmin, Role::kPartner}) {
    EXPECT_EQ(ParseRole(RoleName(role)), role);
  }
  EXPECT_EQ(RoleName(Role::kAppBackend), "app-backend");
  EXPECT_EQ(RoleName(Role::kOrderSystem), "order-system");
  EXPECT_EQ(ParseRole("Admin"), std::nullopt);
  EXPECT_EQ(ParseRole("app_backend"), std::nullopt);

  absl::StatusOr<RoleSet> roles = ParseRoleList("admin,agent,admin");
  ASSERT_TRUE(roles.ok());
  EXPECT_EQ(roles->ToString(), "agent,admin");
  EXPECT_EQ(RoleSet::All().ToString(),
            "app-backend,order-system,agent,admin,partner");
  EXPECT_EQ(RoleName(Role::kPartner), "partner");
  roles = ParseRoleList("partner");
  ASSERT_TRUE(roles.ok());
  EXPECT_EQ(*roles, RoleSet({Role::kPartner}));
  EXPECT_THAT(std::string(ParseRoleList("partners").status().message()),
              HasSubstr("admin, partner"));
  EXPECT_EQ(RoleSet().ToString(), "");
  EXPECT_FALSE(ParseRoleList("").ok());
  EXPECT_FALSE(ParseRoleList("admin, agent").ok());
}

TEST(AuthKindName, NamesEveryKind) {
  EXPECT_EQ(AuthKindName(AuthKind::kJwt), "jwt");
  EXPECT_EQ(AuthKindName(AuthKind::kApiKey), "api_key");
  EXPECT_EQ(AuthKindName(AuthKind::kMtls), "mtls");
  EXPECT_EQ(AuthKindName(AuthKind::kInsecure), "insecure");
}

}  // namespace
}  // namespace makegood::auth
