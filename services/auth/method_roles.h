// File: services/auth/method_roles.h
//
// Which roles may call which method: one table from full gRPC method names
// ("/makegood.v1.RatingService/SubmitRating") to allowed roles. A method that
// is not in the table is denied to everyone — fail closed, so a new RPC is
// unreachable until someone decides who may call it. Health checks and server
// reflection never come here (they are not makegood.v1 methods and are not
// authenticated).
//
//   OrderService    RecordDelivery, GetOrder          order-system
//   MemberService   UpsertMember                      order-system
//                   GetMember                         order-system, agent,
//                                                     admin
//                   GetTrust                          app-backend, agent,
//                                                     admin
//   RatingService   SubmitRating                      app-backend
//   RefundService   GetRefund, ListRefunds,
//                   WatchRefund                       app-backend, agent, admin
//                   MarkRefundAbusive                 agent, admin
//   GoodwillService GrantGoodwill                     agent
//   InsightsService GetSatisfactionStats,
//                   GetRetentionStats                 agent, admin
//   FeedbackService AppealFeedback                    partner
//                   DecideAppeal                      agent, admin
//                   GetAppeal                         partner (its own),
//                                                     agent, admin
//   PolicyService   GetPolicy, ValidatePolicy,
//                   SimulatePolicy, StartExperiment,
//                   GetExperiment, StopExperiment     admin
//
// Example:
//   MAKEGOOD_RETURN_IF_ERROR(CheckMethodAllowed(principal, method));
//
// Thread-safety: pure functions over a constant table.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "services/auth/principal.h"
#include "services/auth/role.h"

namespace makegood::auth {

// One row of the table.
struct MethodRoles {
  absl::string_view method;  // "/makegood.v1.<Service>/<Method>"
  RoleSet roles;
};

// The whole table (for tests and docs).
absl::Span<const MethodRoles> MethodRoleTable();

// The roles allowed to call `full_method`; empty if it is not in the table.
RoleSet AllowedRoles(absl::string_view full_method);

// OK if `principal` holds a role allowed for `full_method`. Otherwise
// PERMISSION_DENIED with ErrorInfo reason "ROLE_NOT_ALLOWED" (message names
// the method, the roles it allows and the roles the caller has) or
// "METHOD_NOT_ALLOWED" if the method is not in the table.
[[nodiscard]] absl::Status CheckMethodAllowed(const Principal& principal,
                                              absl::string_view full_method);

}  // namespace makegood::auth
