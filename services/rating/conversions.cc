#include "services/rating/conversions.h"

#include "google/protobuf/util/time_util.h"

namespace makegood::rating {

using google::protobuf::util::TimeUtil;

absl::Time FromTimestamp(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

namespace {

policy::Reason ReasonFromProto(int reason) {
  switch (reason) {
    case makegood::v1::REASON_MELTED_OR_WARM:
      return policy::Reason::kMeltedOrWarm;
    case makegood::v1::REASON_DAMAGED:
      return policy::Reason::kDamaged;
    case makegood::v1::REASON_MISSING_ITEM:
      return policy::Reason::kMissingItem;
    case makegood::v1::REASON_WRONG_ITEM:
      return policy::Reason::kWrongItem;
    case makegood::v1::REASON_LATE:
      return policy::Reason::kLate;
    case makegood::v1::REASON_POOR_QUALITY:
      return policy::Reason::kPoorQuality;
    case makegood::v1::REASON_COURIER_BEHAVIOUR:
      return policy::Reason::kCourierBehaviour;
    default:
      return policy::Reason::kOther;
  }
}

std::vector<policy::Reason> ReasonsFromProto(
    const google::protobuf::RepeatedField<int>& reasons) {
  std::vector<policy::Reason> out;
  out.reserve(reasons.size());
  for (int r : reasons) out.push_back(ReasonFromProto(r));
  return out;
}

makegood::v1::Outcome OutcomeToProto(policy::Outcome outcome) {
  switch (outcome) {
    case policy::Outcome::kNoAction:
      return makegood::v1::OUTCOME_NO_ACTION;
    case policy::Outcome::kRefund:
      return makegood::v1::OUTCOME_REFUND;
    case policy::Outcome::kWalletCredit:
      return makegood::v1::OUTCOME_WALLET_CREDIT;
    case policy::Outcome::kCoupon:
      return makegood::v1::OUTCOME_COUPON;
    case policy::Outcome::kReplacement:
      return makegood::v1::OUTCOME_REPLACEMENT;
    case policy::Outcome::kRequestEvidence:
      return makegood::v1::OUTCOME_REQUEST_EVIDENCE;
    case policy::Outcome::kManualReview:
      return makegood::v1::OUTCOME_MANUAL_REVIEW;
    case policy::Outcome::kDeny:
      return makegood::v1::OUTCOME_DENY;
  }
  return makegood::v1::OUTCOME_UNSPECIFIED;
}

makegood::v1::FollowUpKind FollowUpToProto(policy::FollowUpKind kind) {
  switch (kind) {
    case policy::FollowUpKind::kCourierFeedback:
      return makegood::v1::FOLLOW_UP_KIND_COURIER_FEEDBACK;
    case policy::FollowUpKind::kStoreFeedback:
      return makegood::v1::FOLLOW_UP_KIND_STORE_FEEDBACK;
    case policy::FollowUpKind::kManagerFollowUp:
      return makegood::v1::FOLLOW_UP_KIND_MANAGER_FOLLOW_UP;
    case policy::FollowUpKind::kSilentRecovery:
      return makegood::v1::FOLLOW_UP_KIND_SILENT_RECOVERY;
  }
  return makegood::v1::FOLLOW_UP_KIND_UNSPECIFIED;
}

policy::PaymentMethod PaymentFromProto(makegood::v1::PaymentMethod method) {
  switch (method) {
    case makegood::v1::PAYMENT_METHOD_CARD:
      return policy::PaymentMethod::kCard;
    case makegood::v1::PAYMENT_METHOD_WALLET:
      return policy::PaymentMethod::kWallet;
    case makegood::v1::PAYMENT_METHOD_CASH:
      return policy::PaymentMethod::kCash;
    default:
      return policy::PaymentMethod::kOther;
  }
}

}  // namespace

policy::MemberSnapshot MemberFromProto(const makegood::v1::Member& member) {
  policy::MemberSnapshot out;
  out.member_id = member.member_id();
  out.tier = member.tier();
  out.member_since = FromTimestamp(member.member_since());
  out.flags.assign(member.flags().begin(), member.flags().end());
  return out;
}

policy::OrderSnapshot OrderFromProto(const makegood::v1::Order& order,
                                     int64_t refunded_minor) {
  policy::OrderSnapshot out;
  out.order_id = order.order_id();
  out.store_id = order.store_id();
  out.courier_id = order.courier_id();
  out.currency = order.currency();
  out.total_minor = order.total_minor();
  out.delivery_fee_minor = order.delivery_fee_minor();
  out.lines.reserve(order.lines_size());
  for (const auto& line : order.lines()) {
    policy::OrderLine l;
    l.line_id = line.line_id();
    l.sku = line.sku();
    l.category = line.category();
    l.quantity = line.quantity();
    l.amount_minor = line.amount_minor();
    out.lines.push_back(std::move(l));
  }
  out.delivered_at = FromTimestamp(order.delivered_at());
  out.payment_method = PaymentFromProto(order.payment_method());
  out.refunded_minor = refunded_minor;
  return out;
}

policy::RatingInput RatingFromProto(
    const makegood::v1::SubmitRatingRequest& request) {
  policy::RatingInput out;
  out.satisfaction = policy::Percent::Clamped(request.satisfaction_percent());
  out.reasons = ReasonsFromProto(request.reasons());
  for (const auto& line : request.line_ratings()) {
    policy::LineRating l;
    l.line_id = line.line_id();
    l.satisfaction = policy::Percent::Clamped(line.satisfaction_percent());
    l.reasons = ReasonsFromProto(line.reasons());
    out.line_ratings.push_back(std::move(l));
  }
  return out;
}

makegood::v1::Instrument InstrumentToProto(policy::Instrument instrument) {
  switch (instrument) {
    case policy::Instrument::kOriginalPayment:
      return makegood::v1::INSTRUMENT_ORIGINAL_PAYMENT;
    case policy::Instrument::kWallet:
      return makegood::v1::INSTRUMENT_WALLET;
    case policy::Instrument::kCoupon:
      return makegood::v1::INSTRUMENT_COUPON;
  }
  return makegood::v1::INSTRUMENT_UNSPECIFIED;
}

const char* InstrumentName(policy::Instrument instrument) {
  switch (instrument) {
    case policy::Instrument::kOriginalPayment:
      return "original_payment";
    case policy::Instrument::kWallet:
      return "wallet";
    case policy::Instrument::kCoupon:
      return "coupon";
  }
  return "unknown";
}

makegood::v1::Decision DecisionToProto(const policy::Decision& decision,
                                       const makegood::v1::Refund* refund) {
  makegood::v1::Decision out;
  out.set_outcome(OutcomeToProto(decision.outcome));
  if (refund != nullptr) *out.mutable_refund() = *refund;
  for (const auto& code : decision.reason_codes) out.add_reason_codes(code);
  out.set_explanation(decision.explanation);
  out.set_policy_version(decision.policy_version);
  out.set_trust_score(decision.trust_score);
  for (const auto& f : decision.follow_ups) {
    auto* follow_up = out.add_follow_ups();
    follow_up->set_kind(FollowUpToProto(f.kind));
    follow_up->set_target_id(f.target_id);
    for (const auto& code : f.reason_codes) follow_up->add_reason_codes(code);
  }
  out.set_review_amount_minor(decision.review_amount_minor);
  return out;
}

makegood::v1::CaseMemberHistory HistoryToProto(
    const policy::MemberSnapshot& member) {
  makegood::v1::CaseMemberHistory out;
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
    makegood::v1::CaseInstantBudget* budget = out.mutable_instant_budget();
    budget->set_balance_minor(member.instant_budget->balance_minor);
    *budget->mutable_as_of() = ToTimestamp(member.instant_budget->as_of);
  }
  return out;
}

makegood::v1::TrustReport TrustReportToProto(
    const policy::TrustReport& report) {
  makegood::v1::TrustReport out;
  out.set_member_id(report.member_id);
  out.set_tier(report.tier);
  out.set_score(report.score);
  for (const policy::TrustFactor& f : report.factors) {
    makegood::v1::TrustFactor* factor = out.add_factors();
    factor->set_name(f.name);
    factor->set_contribution(f.contribution);
    factor->set_detail(f.detail);
  }
  out.set_instant_budget_remaining_minor(report.instant_budget_remaining_minor);
  out.set_currency(report.currency);
  out.set_policy_version(report.policy_version);
  return out;
}

makegood::v1::SimulationCase RecordToSimulationCase(
    const makegood::storage::v1::RatingRecord& record) {
  makegood::v1::SimulationCase out;
  out.set_case_id(record.rating_id());
  *out.mutable_member() = record.member();
  *out.mutable_order() = record.order();
  *out.mutable_rating() = record.request();
  *out.mutable_history() = record.history();
  out.set_order_refunded_minor(record.order_refunded_before_minor());
  *out.mutable_rated_at() = record.created_at();
  return out;
}

}  // namespace makegood::rating
