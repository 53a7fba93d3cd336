#include "services/policy_file/engine_proto.h"

#include <cstdint>
#include <optional>

#include "absl/time/time.h"

namespace makegood::policy_file {

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

}  // namespace makegood::policy_file
