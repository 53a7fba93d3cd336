#include "services/rating/conversions.h"

#include "google/protobuf/util/time_util.h"

namespace makegood::rating {
namespace {

// The request was validated, so every reason is known.
std::vector<policy::Reason> ReasonsFromProto(
    const google::protobuf::RepeatedField<int>& reasons) {
  std::vector<policy::Reason> out;
  out.reserve(reasons.size());
  for (int r : reasons) {
    out.push_back(
        policy_proto::ReasonFromProto(r).value_or(policy::Reason::kOther));
  }
  return out;
}

}  // namespace

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
  out.locale = request.locale();
  return out;
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
  makegood::v1::Decision out = policy_proto::DecisionToProto(decision);
  // The committed refund record (ids, state, times), not just its amount.
  out.clear_refund();
  if (refund != nullptr) *out.mutable_refund() = *refund;
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
