// File: services/policy_proto/engine_proto.h
//
// Between the public API's messages (makegood.v1) and the pure policy
// engine's value types, for code that feeds the engine from protobuf: the
// policy document converter, the simulator and (later) the rating path.
// The engine itself never sees protobuf.
//
// Pure functions; thread-safe.
#pragma once

#include <optional>

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "makegood/v1/member.pb.h"
#include "makegood/v1/order.pb.h"
#include "makegood/v1/policy_service.pb.h"
#include "makegood/v1/rating.pb.h"
#include "makegood/v1/refund.pb.h"
#include "services/policy/decision.h"
#include "services/policy/inputs.h"

namespace makegood::policy_proto {

// The engine's reason, or nullopt for REASON_UNSPECIFIED and numbers the
// enum does not define (callers reject those).
[[nodiscard]] std::optional<policy::Reason> ReasonFromProto(int reason);
[[nodiscard]] makegood::v1::Reason ReasonToProto(policy::Reason reason);

// PAYMENT_METHOD_UNSPECIFIED and unknown numbers count as "other" (the
// refund then goes to the wallet, which is always possible).
[[nodiscard]] policy::PaymentMethod PaymentMethodFromProto(int method);

[[nodiscard]] makegood::v1::Outcome OutcomeToProto(policy::Outcome outcome);
[[nodiscard]] makegood::v1::Instrument InstrumentToProto(
    policy::Instrument instrument);
[[nodiscard]] makegood::v1::FollowUpKind FollowUpKindToProto(
    policy::FollowUpKind kind);

[[nodiscard]] absl::Time FromTimestamp(const google::protobuf::Timestamp& ts);
[[nodiscard]] google::protobuf::Timestamp ToTimestamp(absl::Time t);

// The decision as the API shows it. When money, credit or a coupon moves
// now, `refund` holds only its amount, currency and instrument (no ids or
// state: nothing was recorded).
[[nodiscard]] makegood::v1::Decision DecisionToProto(
    const policy::Decision& decision);

// The member's profile as a snapshot (history and budget left empty).
[[nodiscard]] policy::MemberSnapshot MemberFromProto(
    const makegood::v1::Member& member);

// The order as a snapshot; `refunded_minor` is what was already refunded.
[[nodiscard]] policy::OrderSnapshot OrderFromProto(
    const makegood::v1::Order& order, int64_t refunded_minor);

// A member's rolling counters and instant budget, both ways.
[[nodiscard]] makegood::v1::CaseMemberHistory HistoryToProto(
    const policy::MemberSnapshot& member);
void HistoryFromProto(const makegood::v1::CaseMemberHistory& history,
                      policy::MemberSnapshot& member);

}  // namespace makegood::policy_proto
