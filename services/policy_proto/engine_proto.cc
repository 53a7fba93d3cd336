#include "services/policy_proto/engine_proto.h"

#include <cstdint>
#include <optional>

#include "absl/time/time.h"

namespace makegood::policy_proto {

namespace v1 = ::makegood::v1;

std::optional<policy::Reason> ReasonFromProto(int reason) {
  switch (reason) {
    case v1::REASON_MELTED_OR_WARM:
      return policy::Reason::kMeltedOrWarm;
    case v1::REASON_DAMAGED:
      return policy::Reason::kDamaged;
    case v1::REASON_MISSING_ITEM:
      return policy::Reason::kMissingItem;
    case v1::REASON_WRONG_ITEM:
      return policy::Reason::kWrongItem;
    case v1::REASON_LATE:
      return policy::Reason::kLate;
    case v1::REASON_POOR_QUALITY:
      return policy::Reason::kPoorQuality;
    case v1::REASON_COURIER_BEHAVIOUR:
      return policy::Reason::kCourierBehaviour;
    case v1::REASON_OTHER:
      return policy::Reason::kOther;
    default:
      return std::nullopt;
  }
}

v1::Reason ReasonToProto(policy::Reason reason) {
  switch (reason) {
    case policy::Reason::kMeltedOrWarm:
      return v1::REASON_MELTED_OR_WARM;
    case policy::Reason::kDamaged:
      return v1::REASON_DAMAGED;
    case policy::Reason::kMissingItem:
      return v1::REASON_MISSING_ITEM;
    case policy::Reason::kWrongItem:
      return v1::REASON_WRONG_ITEM;
    case policy::Reason::kLate:
      return v1::REASON_LATE;
    case policy::Reason::kPoorQuality:
      return v1::REASON_POOR_QUALITY;
    case policy::Reason::kCourierBehaviour:
      return v1::REASON_COURIER_BEHAVIOUR;
    case policy::Reason::kOther:
      return v1::REASON_OTHER;
  }
  return v1::REASON_UNSPECIFIED;
}

policy::PaymentMethod PaymentMethodFromProto(int method) {
  switch (method) {
    case v1::PAYMENT_METHOD_CARD:
      return policy::PaymentMethod::kCard;
    case v1::PAYMENT_METHOD_WALLET:
      return policy::PaymentMethod::kWallet;
    case v1::PAYMENT_METHOD_CASH:
      return policy::PaymentMethod::kCash;
    default:
      return policy::PaymentMethod::kOther;
  }
}

v1::Outcome OutcomeToProto(policy::Outcome outcome) {
  switch (outcome) {
    case policy::Outcome::kNoAction:
      return v1::OUTCOME_NO_ACTION;
    case policy::Outcome::kRefund:
      return v1::OUTCOME_REFUND;
    case policy::Outcome::kWalletCredit:
      return v1::OUTCOME_WALLET_CREDIT;
    case policy::Outcome::kCoupon:
      return v1::OUTCOME_COUPON;
    case policy::Outcome::kReplacement:
      return v1::OUTCOME_REPLACEMENT;
    case policy::Outcome::kRequestEvidence:
      return v1::OUTCOME_REQUEST_EVIDENCE;
    case policy::Outcome::kManualReview:
      return v1::OUTCOME_MANUAL_REVIEW;
    case policy::Outcome::kDeny:
      return v1::OUTCOME_DENY;
  }
  return v1::OUTCOME_UNSPECIFIED;
}

v1::Instrument InstrumentToProto(policy::Instrument instrument) {
  switch (instrument) {
    case policy::Instrument::kOriginalPayment:
      return v1::INSTRUMENT_ORIGINAL_PAYMENT;
    case policy::Instrument::kWallet:
      return v1::INSTRUMENT_WALLET;
    case policy::Instrument::kCoupon:
      return v1::INSTRUMENT_COUPON;
  }
  return v1::INSTRUMENT_UNSPECIFIED;
}

v1::FollowUpKind FollowUpKindToProto(policy::FollowUpKind kind) {
  switch (kind) {
    case policy::FollowUpKind::kCourierFeedback:
      return v1::FOLLOW_UP_KIND_COURIER_FEEDBACK;
    case policy::FollowUpKind::kStoreFeedback:
      return v1::FOLLOW_UP_KIND_STORE_FEEDBACK;
    case policy::FollowUpKind::kManagerFollowUp:
      return v1::FOLLOW_UP_KIND_MANAGER_FOLLOW_UP;
    case policy::FollowUpKind::kSilentRecovery:
      return v1::FOLLOW_UP_KIND_SILENT_RECOVERY;
  }
  return v1::FOLLOW_UP_KIND_UNSPECIFIED;
}

absl::Time FromTimestamp(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t seconds = absl::ToUnixSeconds(t);
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
  return ts;
}

v1::Decision DecisionToProto(const policy::Decision& decision) {
  v1::Decision out;
  out.set_outcome(OutcomeToProto(decision.outcome));
  if (decision.refund.has_value()) {
    v1::Refund* refund = out.mutable_refund();
    refund->set_amount_minor(decision.refund->amount_minor);
    refund->set_currency(decision.refund->currency);
    refund->set_instrument(InstrumentToProto(decision.refund->instrument));
  }
  for (const auto& code : decision.reason_codes) out.add_reason_codes(code);
  out.set_explanation(decision.explanation);
  out.set_policy_version(decision.policy_version);
  out.set_trust_score(decision.trust_score);
  for (const policy::FollowUp& f : decision.follow_ups) {
    v1::FollowUp* follow_up = out.add_follow_ups();
    follow_up->set_kind(FollowUpKindToProto(f.kind));
    follow_up->set_target_id(f.target_id);
    for (const auto& code : f.reason_codes) follow_up->add_reason_codes(code);
  }
  out.set_review_amount_minor(decision.review_amount_minor);
  return out;
}

policy::MemberSnapshot MemberFromProto(const v1::Member& member) {
  policy::MemberSnapshot out;
  out.member_id = member.member_id();
  out.tier = member.tier();
  out.member_since = FromTimestamp(member.member_since());
  out.flags.assign(member.flags().begin(), member.flags().end());
  return out;
}

policy::OrderSnapshot OrderFromProto(const v1::Order& order,
                                     int64_t refunded_minor) {
  policy::OrderSnapshot out;
  out.order_id = order.order_id();
  out.store_id = order.store_id();
  out.courier_id = order.courier_id();
  out.currency = order.currency();
  out.total_minor = order.total_minor();
  out.delivery_fee_minor = order.delivery_fee_minor();
  out.lines.reserve(order.lines_size());
  for (const v1::OrderLine& line : order.lines()) {
    out.lines.push_back({.line_id = line.line_id(),
                         .sku = line.sku(),
                         .category = line.category(),
                         .quantity = line.quantity(),
                         .amount_minor = line.amount_minor()});
  }
  out.delivered_at = FromTimestamp(order.delivered_at());
  out.payment_method = PaymentMethodFromProto(order.payment_method());
  out.refunded_minor = refunded_minor;
  return out;
}

v1::CaseMemberHistory HistoryToProto(const policy::MemberSnapshot& member) {
  v1::CaseMemberHistory out;
  const policy::MemberHistory& h = member.history;
  out.set_delivered_orders(h.delivered_orders);
  out.set_spend_90d_minor(h.spend_90d_minor);
  out.set_refunds_30d(h.refunds_30d);
  out.set_refunded_30d_minor(h.refunded_30d_minor);
  out.set_refunds_90d(h.refunds_90d);
  out.set_refunded_90d_minor(h.refunded_90d_minor);
  out.set_low_ratings_30d(h.low_ratings_30d);
  if (h.last_low_rating_at.has_value()) {
    *out.mutable_last_low_rating_at() = ToTimestamp(*h.last_low_rating_at);
  }
  if (member.instant_budget.has_value()) {
    v1::CaseInstantBudget* budget = out.mutable_instant_budget();
    budget->set_balance_minor(member.instant_budget->balance_minor);
    *budget->mutable_as_of() = ToTimestamp(member.instant_budget->as_of);
  }
  return out;
}

void HistoryFromProto(const v1::CaseMemberHistory& h,
                      policy::MemberSnapshot& member) {
  member.history = {
      .delivered_orders = h.delivered_orders(),
      .spend_90d_minor = h.spend_90d_minor(),
      .refunds_30d = h.refunds_30d(),
      .refunded_30d_minor = h.refunded_30d_minor(),
      .refunds_90d = h.refunds_90d(),
      .refunded_90d_minor = h.refunded_90d_minor(),
      .low_ratings_30d = h.low_ratings_30d(),
      .last_low_rating_at = std::nullopt,
  };
  if (h.has_last_low_rating_at()) {
    member.history.last_low_rating_at = FromTimestamp(h.last_low_rating_at());
  }
  if (h.has_instant_budget()) {
    member.instant_budget = policy::InstantBudgetState{
        .balance_minor = h.instant_budget().balance_minor(),
        .as_of = FromTimestamp(h.instant_budget().as_of())};
  }
}

}  // namespace makegood::policy_proto
