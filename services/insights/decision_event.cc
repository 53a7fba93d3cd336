#include "services/insights/decision_event.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/store/decision_event_schema.h"

namespace makegood::insights {
namespace {

namespace event_field = store::decision_event;

using Fields = absl::flat_hash_map<std::string, std::string>;

absl::Status Bad(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("decision event field ", field, " ", problem));
}

absl::StatusOr<int64_t> Integer(const Fields& fields, const std::string& name,
                                int64_t min, int64_t max) {
  auto it = fields.find(name);
  if (it == fields.end()) return Bad(name, "is missing");
  int64_t value = 0;
  if (!absl::SimpleAtoi(it->second, &value) || value < min || value > max) {
    return Bad(name, absl::StrCat("is not an integer in [", min, ", ", max,
                                  "]: \"", it->second, "\""));
  }
  return value;
}

std::string Text(const Fields& fields, const std::string& name) {
  auto it = fields.find(name);
  return it == fields.end() ? std::string() : it->second;
}

// Amounts are at most 10^12 minor units (api/validation.h); anything far
// beyond that is a corrupt entry, and would break exact sums in Lua.
constexpr int64_t kMaxMinor = int64_t{1} << 50;

}  // namespace

absl::string_view DimensionName(Dimension dimension) {
  switch (dimension) {
    case Dimension::kStore:
      return "store";
    case Dimension::kCourier:
      return "courier";
    case Dimension::kSku:
      return "sku";
  }
  return "unknown";
}

absl::StatusOr<DecisionEvent> ParseDecisionEvent(
    const redis::RedisReply& reply) {
  if (reply.type != redis::RedisReply::Type::kArray) {
    return absl::InvalidArgumentError(
        "decision event has no fields (trimmed or deleted entry)");
  }
  Fields fields;
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    fields[reply.elements[i].str] = reply.elements[i + 1].str;
  }
  // The lines in one field (decision_event_schema.h), read as the three
  // fields per line that events before it carry.
  if (auto items = fields.find(event_field::kItems); items != fields.end()) {
    const std::string packed = items->second;
    int64_t i = 0;
    for (absl::string_view row :
         absl::StrSplit(packed, event_field::kLineSeparator)) {
      if (packed.empty()) break;
      if (i >= kMaxEventLines) {
        return Bad(event_field::kItems, "has too many lines");
      }
      std::vector<absl::string_view> columns =
          absl::StrSplit(row, event_field::kItemSeparator);
      if (columns.size() != 3) {
        return Bad(
            event_field::kItems,
            absl::StrCat("line ", i, " is not sku, satisfaction, refund"));
      }
      fields[event_field::LineSku(i)] = std::string(columns[0]);
      fields[event_field::LineSatisfaction(i)] = std::string(columns[1]);
      fields[event_field::LineRefund(i)] = std::string(columns[2]);
      ++i;
    }
    const auto declared = fields.find(event_field::kLines);
    if (declared == fields.end() || declared->second != absl::StrCat(i)) {
      return Bad(event_field::kItems,
                 absl::StrCat("has ", i, " lines, not ", event_field::kLines));
    }
  }
  DecisionEvent event;
  event.rating_id = Text(fields, event_field::kRatingId);
  auto at_ms = Integer(fields, event_field::kAtMs, 1, kMaxMinor);
  if (!at_ms.ok()) return at_ms.status();
  event.at_ms = *at_ms;
  auto satisfaction = Integer(fields, event_field::kSatisfaction, 0, 100);
  if (!satisfaction.ok()) return satisfaction.status();
  event.satisfaction = static_cast<int>(*satisfaction);
  event.outcome = Text(fields, event_field::kOutcome);
  auto refund = Integer(fields, event_field::kRefundMinor, 0, kMaxMinor);
  if (!refund.ok()) return refund.status();
  event.refund_minor = *refund;
  event.currency = Text(fields, event_field::kCurrency);
  if (event.refund_minor > 0 && event.currency.empty()) {
    return Bad(
        event_field::kCurrency,
        absl::StrCat("is missing while ", event_field::kRefundMinor, " > 0"));
  }
  event.store_id = Text(fields, event_field::kStoreId);
  event.courier_id = Text(fields, event_field::kCourierId);
  auto lines = Integer(fields, event_field::kLines, 0, kMaxEventLines);
  if (!lines.ok()) return lines.status();
  event.lines.reserve(static_cast<size_t>(*lines));
  for (int64_t i = 0; i < *lines; ++i) {
    DecisionLine line;
    line.sku = Text(fields, event_field::LineSku(i));
    auto sat = Integer(fields, event_field::LineSatisfaction(i), 0, 100);
    if (!sat.ok()) return sat.status();
    line.satisfaction = static_cast<int>(*sat);
    auto share = Integer(fields, event_field::LineRefund(i), 0, kMaxMinor);
    if (!share.ok()) return share.status();
    line.refund_minor = *share;
    event.lines.push_back(std::move(line));
  }
  return event;
}

std::vector<Contribution> ContributionsOf(const DecisionEvent& event) {
  std::vector<Contribution> out;
  out.reserve(2 + event.lines.size());
  auto whole = [&](Dimension dimension, const std::string& subject) {
    if (subject.empty()) return;
    Contribution c;
    c.dimension = dimension;
    c.subject = subject;
    c.satisfaction = event.satisfaction;
    c.refunded = event.refund_minor > 0;
    c.refund_minor = event.refund_minor;
    out.push_back(std::move(c));
  };
  whole(Dimension::kStore, event.store_id);
  whole(Dimension::kCourier, event.courier_id);
  for (const DecisionLine& line : event.lines) {
    if (line.sku.empty()) continue;
    Contribution c;
    c.dimension = Dimension::kSku;
    c.subject = line.sku;
    c.satisfaction = line.satisfaction;
    c.refunded = line.refund_minor > 0;
    c.refund_minor = line.refund_minor;
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace makegood::insights
