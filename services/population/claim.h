// File: services/population/claim.h
//
// What counts as a claim, and how much money it asks for, read off the
// request the member sent (never off what the simulation meant): the report's
// definitions, in one place (docs/POPULATION.md quotes them).
//
// A rating is a TROUBLE, and the server tracks whether its member orders
// again (InsightsService.GetRetentionStats), when it is at or below the
// policy's trouble_max_percent (unset: low_rating_max_percent) or tags any
// reason, on the order or a line.
//
// A rating is a CLAIM when it asks for something:
//   - the order is rated low (satisfaction <= the policy's
//     low_rating_max_percent) with at least one reason, or
//   - at least one line is rated low (with or without a reason).
// A low rating without any reason or line rating is not a claim (the member
// is unhappy but says nothing: the policy's silent recovery is for those).
//
// The CLAIMED MONEY of a claim:
//   - the amounts of the lines rated low, plus the delivery fee when the order
//     is tagged REASON_LATE;
//   - with no line rated low: the delivery fee when every reason is about the
//     delivery (REASON_LATE, REASON_COURIER_BEHAVIOUR), else every line;
//   - never more than the order's total.
#pragma once

#include <cstdint>

#include "makegood/v1/order.pb.h"
#include "makegood/v1/rating.pb.h"
#include "makegood/v1/rating_service.pb.h"

namespace makegood::population {

bool IsTrouble(const v1::SubmitRatingRequest& rating, int trouble_max_percent);

bool IsClaim(const v1::SubmitRatingRequest& rating, int low_max_percent);

// 0 when `rating` is not a claim.
int64_t ClaimedMinor(const v1::SubmitRatingRequest& rating,
                     const v1::Order& order, int low_max_percent);

// The decision made the claim good at once, with nothing left for a person:
// a refund, wallet credit, a coupon or a replacement.
bool MadeGoodAtOnce(v1::Outcome outcome);

}  // namespace makegood::population
