#include "services/population/claim.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"

namespace makegood::population {
namespace {

bool AboutTheDelivery(int reason) {
  return reason == v1::REASON_LATE || reason == v1::REASON_COURIER_BEHAVIOUR;
}

}  // namespace

bool IsTrouble(const v1::SubmitRatingRequest& rating, int trouble_max_percent) {
  if (rating.satisfaction_percent() <= trouble_max_percent) return true;
  if (rating.reasons_size() > 0) return true;
  return std::any_of(
      rating.line_ratings().begin(), rating.line_ratings().end(),
      [](const v1::LineRating& line) { return line.reasons_size() > 0; });
}

bool IsClaim(const v1::SubmitRatingRequest& rating, int low_max_percent) {
  if (rating.satisfaction_percent() <= low_max_percent &&
      rating.reasons_size() > 0) {
    return true;
  }
  return std::any_of(rating.line_ratings().begin(), rating.line_ratings().end(),
                     [&](const v1::LineRating& line) {
                       return line.satisfaction_percent() <= low_max_percent;
                     });
}

int64_t ClaimedMinor(const v1::SubmitRatingRequest& rating,
                     const v1::Order& order, int low_max_percent) {
  if (!IsClaim(rating, low_max_percent)) return 0;
  absl::flat_hash_set<std::string> low_lines;
  for (const v1::LineRating& line : rating.line_ratings()) {
    if (line.satisfaction_percent() <= low_max_percent) {
      low_lines.insert(line.line_id());
    }
  }
  const bool late =
      std::any_of(rating.reasons().begin(), rating.reasons().end(),
                  [](int reason) { return reason == v1::REASON_LATE; });
  int64_t claimed = 0;
  if (!low_lines.empty()) {
    for (const v1::OrderLine& line : order.lines()) {
      if (low_lines.contains(line.line_id())) claimed += line.amount_minor();
    }
    if (late) claimed += order.delivery_fee_minor();
  } else if (std::all_of(rating.reasons().begin(), rating.reasons().end(),
                         AboutTheDelivery)) {
    claimed = order.delivery_fee_minor();
  } else {
    for (const v1::OrderLine& line : order.lines()) {
      claimed += line.amount_minor();
    }
  }
  return std::min(claimed, order.total_minor());
}

bool MadeGoodAtOnce(v1::Outcome outcome) {
  switch (outcome) {
    case v1::OUTCOME_REFUND:
    case v1::OUTCOME_WALLET_CREDIT:
    case v1::OUTCOME_COUPON:
    case v1::OUTCOME_REPLACEMENT:
      return true;
    default:
      return false;
  }
}

}  // namespace makegood::population
