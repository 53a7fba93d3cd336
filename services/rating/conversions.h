// File: services/rating/conversions.h
//
// Between the public API (makegood.v1 protobuf) and the pure policy engine's
// value types. The engine never sees protobuf; this is where the two meet.
#pragma once

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "makegood/storage/v1/records.pb.h"
#include "makegood/v1/member.pb.h"
#include "makegood/v1/order.pb.h"
#include "makegood/v1/policy_service.pb.h"
#include "makegood/v1/rating.pb.h"
#include "makegood/v1/rating_service.pb.h"
#include "makegood/v1/refund.pb.h"
#include "services/policy/decision.h"
#include "services/policy/inputs.h"
#include "services/policy_proto/engine_proto.h"

namespace makegood::rating {

// The proto <-> engine mappings shared with the simulator live in
// services/policy_proto/engine_proto.h; these names are used unqualified here.
using policy_proto::FromTimestamp;
using policy_proto::HistoryToProto;
using policy_proto::InstrumentToProto;
using policy_proto::MemberFromProto;
using policy_proto::OrderFromProto;
using policy_proto::ToTimestamp;

// The request was validated: reasons are known, percentages in range.
policy::RatingInput RatingFromProto(
    const makegood::v1::SubmitRatingRequest& request);

// "original_payment", "wallet", "coupon": ledger account and outbox names.
const char* InstrumentName(policy::Instrument instrument);

// The API decision. `refund` is the refund record when money, credit or a
// coupon moves now (copied into the decision), else null.
makegood::v1::Decision DecisionToProto(const policy::Decision& decision,
                                       const makegood::v1::Refund* refund);

// The API's TrustReport: score, every factor, the instant budget left.
makegood::v1::TrustReport TrustReportToProto(const policy::TrustReport& report);

// A committed rating as a simulation case (case_id = rating_id): the member,
// order, request and history the policy decided on, decided again at the
// record's created_at. The inverse of what DecideAndCommit stores.
makegood::v1::SimulationCase RecordToSimulationCase(
    const makegood::storage::v1::RatingRecord& record);

}  // namespace makegood::rating
