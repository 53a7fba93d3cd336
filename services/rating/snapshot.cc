#include "services/rating/snapshot.h"

#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/rating/conversions.h"

namespace makegood::rating {

int64_t DayNumber(absl::Time t) { return absl::ToUnixSeconds(t) / (24 * 3600); }

absl::StatusOr<StoredMember> MemberFromStored(
    const redis::RedisReply& member_pb, const redis::RedisReply& stats,
    absl::Time now, absl::string_view currency) {
  StoredMember s;
  if (!member_pb.is_text() || !s.member.ParseFromString(member_pb.str)) {
    return absl::DataLossError("stored member does not parse");
  }
  s.snapshot = MemberFromProto(s.member);

  policy::MemberHistory& h = s.snapshot.history;
  // The currency's own instant budget, else the one stored before
  // currencies.
  std::optional<int64_t> ib_balance, ib_as_of, legacy_ib_balance,
      legacy_ib_as_of;
  const std::string ib_balance_field = absl::StrCat("ib_balance:", currency);
  const std::string ib_as_of_field = absl::StrCat("ib_as_of_ms:", currency);
  const int64_t today = DayNumber(now);
  for (size_t i = 0; i + 1 < stats.elements.size(); i += 2) {
    const std::string& field = stats.elements[i].str;
    int64_t value = 0;
    if (!absl::SimpleAtoi(stats.elements[i + 1].str, &value)) continue;
    if (field == "delivered_orders") {
      h.delivered_orders = value;
    } else if (field == "ver") {
      s.stats_version = stats.elements[i + 1].str;
    } else if (field == "last_low_ms") {
      h.last_low_rating_at = absl::FromUnixMillis(value);
    } else if (field == "abuse") {
      // Claims an operator marked abusive (MarkRefundAbusive) feed trust as
      // the derived flag "confirmed_abuse", which the policy weighs.
      if (value > 0) s.snapshot.flags.push_back(std::string(kAbuseFlag));
    } else if (field == "ib_balance") {
      legacy_ib_balance = value;
    } else if (field == "ib_as_of_ms") {
      legacy_ib_as_of = value;
    } else if (!currency.empty() && field == ib_balance_field) {
      ib_balance = value;
    } else if (!currency.empty() && field == ib_as_of_field) {
      ib_as_of = value;
    } else if (field.size() > 3 && field[2] == ':') {
      // "<kind>:<day>" or "<kind>:<CUR>:<day>".
      absl::string_view rest = absl::string_view(field).substr(3);
      absl::string_view field_currency;
      if (const size_t colon = rest.find(':');
          colon != absl::string_view::npos) {
        field_currency = rest.substr(0, colon);
        rest = rest.substr(colon + 1);
      }
      int64_t day = 0;
      if (!absl::SimpleAtoi(rest, &day)) continue;
      int64_t age = today - day;
      if (age >= kLongWindowDays) {
        s.expired_fields.push_back(field);
        continue;
      }
      // Another currency's money is not this one's history.
      if (!field_currency.empty() && field_currency != currency) continue;
      bool short_window = age < kShortWindowDays;
      absl::string_view kind = absl::string_view(field).substr(0, 2);
      if (kind == "sp") {
        h.spend_90d_minor += value;
      } else if (kind == "rc") {
        h.refunds_90d += value;
        if (short_window) h.refunds_30d += value;
      } else if (kind == "rm") {
        h.refunded_90d_minor += value;
        if (short_window) h.refunded_30d_minor += value;
      } else if (kind == "lr" && short_window) {
        h.low_ratings_30d += value;
      }
    }
  }
  if (!ib_balance.has_value() || !ib_as_of.has_value()) {
    ib_balance = legacy_ib_balance;
    ib_as_of = legacy_ib_as_of;
  }
  if (ib_balance.has_value() && ib_as_of.has_value()) {
    s.snapshot.instant_budget = policy::InstantBudgetState{
        .balance_minor = *ib_balance, .as_of = absl::FromUnixMillis(*ib_as_of)};
  }
  return s;
}

absl::StatusOr<AdmitSnapshot> ParseAdmitSnapshot(const AdmitReply& fresh,
                                                 absl::Time now) {
  AdmitSnapshot s;
  if (!fresh.order_pb.is_text() ||
      !s.order.ParseFromString(fresh.order_pb.str)) {
    return absl::DataLossError("stored order does not parse");
  }
  absl::StatusOr<StoredMember> member =
      MemberFromStored(fresh.member_pb, fresh.stats, now, s.order.currency());
  if (!member.ok()) return member.status();
  auto refunded =
      redis::ReplyInteger(fresh.order_refunded_minor, "refunded_minor");
  if (!refunded.ok()) return refunded.status();
  s.order_refunded_minor = *refunded;
  s.member = std::move(member->member);
  s.member_snapshot = std::move(member->snapshot);
  s.stats_version = std::move(member->stats_version);
  s.expired_fields = std::move(member->expired_fields);
  s.order_snapshot = OrderFromProto(s.order, s.order_refunded_minor);
  return s;
}

}  // namespace makegood::rating
