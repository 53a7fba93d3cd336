#include "services/rating/decision_event_fields.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "services/store/decision_event_schema.h"

namespace makegood::rating {

std::vector<std::string> DecisionEventFields(
    const std::string& rating_id, absl::Time now,
    const makegood::v1::SubmitRatingRequest& request,
    const makegood::v1::Order& order, const policy::Decision& decision) {
  int64_t refund_minor =
      decision.refund.has_value() &&
              decision.refund->instrument != policy::Instrument::kCoupon
          ? decision.refund->amount_minor
          : 0;
  namespace field = store::decision_event;
  std::vector<std::string> fields = {
      field::kRatingId,     rating_id,
      field::kAtMs,         absl::StrCat(absl::ToUnixMillis(now)),
      field::kSatisfaction, absl::StrCat(request.satisfaction_percent()),
      field::kOutcome,      std::string(policy::OutcomeName(decision.outcome)),
      field::kRefundMinor,  absl::StrCat(refund_minor),
      field::kCurrency,     order.currency(),
      field::kStoreId,      order.store_id(),
      field::kCourierId,    order.courier_id(),
      field::kLines,        absl::StrCat(order.lines_size())};
  int64_t goods = 0;
  for (const auto& line : order.lines()) goods += line.amount_minor();
  std::string items;
  for (int i = 0; i < order.lines_size(); ++i) {
    const auto& line = order.lines(i);
    int satisfaction = request.satisfaction_percent();
    for (const auto& rated : request.line_ratings()) {
      if (rated.line_id() == line.line_id()) {
        satisfaction = rated.satisfaction_percent();
      }
    }
    // Amounts are at most 10^12 minor units, so the product fits in double
    // precision well enough for a statistic; money never depends on it.
    int64_t share =
        goods > 0
            ? static_cast<int64_t>(static_cast<double>(refund_minor) *
                                   static_cast<double>(line.amount_minor()) /
                                   static_cast<double>(goods))
            : 0;
    if (i > 0) items.push_back(field::kLineSeparator);
    absl::StrAppend(&items, line.sku(), std::string(1, field::kItemSeparator),
                    satisfaction, std::string(1, field::kItemSeparator), share);
  }
  fields.push_back(field::kItems);
  fields.push_back(std::move(items));
  return fields;
}

}  // namespace makegood::rating
