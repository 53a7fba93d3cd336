// File: services/policy_file/engine_proto.h
//
// Forwarding header. The proto <-> engine conversions moved to
// services/policy_proto/engine_proto.h (namespace makegood::policy_proto).
// This header remains only for services/rating/conversions.{h,cc}, which are
// being rewritten concurrently; delete it once they include the new header
// and say policy_proto::.
#pragma once

#include "services/policy_proto/engine_proto.h"

namespace makegood::policy_file {

using policy_proto::DecisionToProto;
using policy_proto::FollowUpKindToProto;
using policy_proto::FromTimestamp;
using policy_proto::HistoryFromProto;
using policy_proto::HistoryToProto;
using policy_proto::InstrumentToProto;
using policy_proto::MemberFromProto;
using policy_proto::OrderFromProto;
using policy_proto::OutcomeToProto;
using policy_proto::PaymentMethodFromProto;
using policy_proto::ReasonFromProto;
using policy_proto::ReasonToProto;
using policy_proto::ToTimestamp;

}  // namespace makegood::policy_file
