// File: services/rating/decision_event_fields.h
//
// The decision event a committed rating appends for insights (the stream
// KeySchema::DecisionsKey; its reader is insights/decision_event.h, whose
// comment lists the fields; both take the field names from
// store/decision_event_schema.h). No member id, only what per store / courier /
// SKU statistics need. Each line gets its own satisfaction (its line rating,
// else the overall one) and a share of the refund proportional to its
// amount.
//
// Pure function; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "makegood/v1/order.pb.h"
#include "makegood/v1/rating_service.pb.h"
#include "services/policy/decision.h"

namespace makegood::rating {

// The event's field/value pairs, flat ([field, value, field, value, ...];
// the lines packed in one field, store/decision_event_schema.h),
// as CommitRequest::decision_event carries them.
std::vector<std::string> DecisionEventFields(
    const std::string& rating_id, absl::Time now,
    const makegood::v1::SubmitRatingRequest& request,
    const makegood::v1::Order& order, const policy::Decision& decision);

}  // namespace makegood::rating
