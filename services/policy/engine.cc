#include "services/policy/engine.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "services/policy/curve.h"
#include "services/policy/instant_budget.h"
#include "services/policy/money.h"
#include "services/policy/trust_score.h"

namespace makegood::policy {
namespace {

enum class Band { kInstant, kPartial, kEvidence, kReview, kDeny };

Band BandFor(const TrustThresholds& t, int score) {
  if (score >= t.instant_min_score) return Band::kInstant;
  if (score >= t.partial_min_score) return Band::kPartial;
  if (score >= t.evidence_min_score) return Band::kEvidence;
  if (score >= t.review_min_score) return Band::kReview;
  return Band::kDeny;
}

// One bit per Reason.
using ReasonSet = uint32_t;
static_assert(kReasonCount <= 32);
ReasonSet Bit(Reason reason) { return ReasonSet{1} << static_cast<int>(reason); }

bool IsKnown(Reason reason) {
  const int value = static_cast<int>(reason);
  return value >= 0 && value < kReasonCount;
}

// How the explanation refers to a reason: "Items reported as <...>".
absl::string_view Adjective(Reason reason) {
  switch (reason) {
    case Reason::kMeltedOrWarm:
      return "melted or warm";
    case Reason::kDamaged:
      return "damaged";
    case Reason::kMissingItem:
      return "missing";
    case Reason::kWrongItem:
      return "wrong";
    case Reason::kLate:
      return "late";
    case Reason::kPoorQuality:
      return "of poor quality";
    case Reason::kCourierBehaviour:
      return "affected by the courier's behaviour";
    case Reason::kOther:
      return "unsatisfactory";
  }
  return "unsatisfactory";
}

// The reason codes of a decision, each with the sentence (possibly empty)
// that explains it to the member, in the order they were added.
class Rationale {
 public:
  void Add(std::string code, std::string sentence = {}) {
    codes_.push_back(std::move(code));
    if (!sentence.empty()) sentences_.push_back(std::move(sentence));
  }
  std::vector<std::string> TakeCodes() { return std::move(codes_); }
  std::string Explain(absl::string_view headline) const {
    if (sentences_.empty()) return std::string(headline);
    return absl::StrCat(headline, " ", absl::StrJoin(sentences_, " "));
  }

 private:
  std::vector<std::string> codes_;
  std::vector<std::string> sentences_;
};

// "a", "a and b", "a, b and c".
std::string JoinEnglish(absl::Span<const std::string> items) {
  if (items.size() <= 1) return absl::StrJoin(items, "");
  return absl::StrCat(absl::StrJoin(items.first(items.size() - 1), ", "),
                      " and ", items.back());
}

std::string Capitalized(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = s[0] - 'a' + 'A';
  return s;
}

absl::Status CheckOrder(const OrderSnapshot& order,
                        const std::string& currency) {
  if (order.currency != currency) {
    return absl::InvalidArgumentError(
        absl::StrCat("order ", order.order_id, " is in ", order.currency,
                     " but the policy decides in ", currency));
  }
  if (order.total_minor < 0 || order.delivery_fee_minor < 0 ||
      order.refunded_minor < 0 || order.refunded_minor > order.total_minor) {
    return absl::InvalidArgumentError(absl::StrCat(
        "order ", order.order_id,
        ": total, delivery fee and refunded amounts must be non-negative, "
        "with refunded at most the total"));
  }
  int64_t sum = order.delivery_fee_minor;
  for (const OrderLine& line : order.lines) {
    if (line.amount_minor < 0 || line.amount_minor > order.total_minor - sum) {
      return absl::InvalidArgumentError(absl::StrCat(
          "order ", order.order_id,
          ": line amounts must be non-negative and, with the delivery fee, "
          "add up to at most the total"));
    }
    sum += line.amount_minor;
  }
  return absl::OkStatus();
}

absl::Status CheckHistory(const MemberSnapshot& member) {
  const MemberHistory& h = member.history;
  for (int64_t counter :
       {h.delivered_orders, h.spend_90d_minor, h.refunds_30d,
        h.refunded_30d_minor, h.refunds_90d, h.refunded_90d_minor,
        h.low_ratings_30d}) {
    if (counter < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "member ", member.member_id, ": history counters must not be negative"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckReasons(absl::Span<const Reason> reasons) {
  for (Reason reason : reasons) {
    if (!IsKnown(reason)) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown reason ", static_cast<int>(reason)));
    }
  }
  return absl::OkStatus();
}

// Checks the rating and maps it onto the order: element i is the rating of
// order.lines[i], or nullptr if that line is not rated.
absl::StatusOr<std::vector<const LineRating*>> MapLineRatings(
    const OrderSnapshot& order, const RatingInput& rating) {
  if (absl::Status s = CheckReasons(rating.reasons); !s.ok()) return s;
  std::vector<const LineRating*> by_line(order.lines.size(), nullptr);
  if (rating.line_ratings.empty()) return by_line;
  absl::flat_hash_map<absl::string_view, size_t> index;
  index.reserve(order.lines.size());
  for (size_t i = 0; i < order.lines.size(); ++i) {
    if (!index.emplace(order.lines[i].line_id, i).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("order ", order.order_id, " repeats line id ",
                       order.lines[i].line_id));
    }
  }
  for (const LineRating& line_rating : rating.line_ratings) {
    if (absl::Status s = CheckReasons(line_rating.reasons); !s.ok()) return s;
    const auto it = index.find(line_rating.line_id);
    if (it == index.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("order ", order.order_id, " has no line ",
                       line_rating.line_id));
    }
    if (by_line[it->second] != nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_rating.line_id, " is rated twice"));
    }
    by_line[it->second] = &line_rating;
  }
  return by_line;
}

bool HasAnyReason(const RatingInput& rating) {
  if (!rating.reasons.empty()) return true;
  return std::any_of(
      rating.line_ratings.begin(), rating.line_ratings.end(),
      [](const LineRating& line) { return !line.reasons.empty(); });
}

std::vector<std::string> ReasonNames(ReasonSet reasons) {
  std::vector<std::string> names;
  for (int r = 0; r < kReasonCount; ++r) {
    if (reasons & Bit(Reason(r))) names.emplace_back(ReasonName(Reason(r)));
  }
  return names;
}

}  // namespace

// What a rating claims before ceilings, and which rules produced it.
struct PolicyEngine::Claim {
  int64_t goods_minor = 0;         // curve and full-line refunds
  int64_t delivery_fee_minor = 0;  // from a delivery-fee rule
  int64_t coupon_minor = 0;        // from a coupon rule; granted only if no
                                   // money is due
  bool curve_paid = false;
  ReasonSet full_line = 0;    // rules that refunded a line in full
  ReasonSet replaced = 0;     // rules that replaced a line
  ReasonSet fee = 0;          // rules that refunded the delivery fee
  ReasonSet coupon = 0;       // rules that offered a coupon
  ReasonSet to_courier = 0;   // reasons to feed back to the courier
  ReasonSet to_store = 0;     // reasons to feed back to the store
  std::vector<std::string> replacement_line_ids;
  std::vector<std::string> excluded_categories;  // sorted, unique
};

PolicyEngine::PolicyEngine(PolicyConfig config, std::string version)
    : config_(std::move(config)), version_(std::move(version)) {
  for (size_t i = 0; i < config_.tiers.size(); ++i) {
    tier_index_.emplace(config_.tiers[i].name, i);
  }
  excluded_categories_.insert(config_.excluded_categories.begin(),
                              config_.excluded_categories.end());
  for (const ReasonRule& rule : config_.reason_rules) {
    rules_[static_cast<int>(rule.reason)] = rule;
  }
}

absl::StatusOr<PolicyEngine> PolicyEngine::Create(PolicyConfig config,
                                                  std::string version) {
  if (absl::Status s = ViolationsToStatus(Validate(config)); !s.ok()) {
    return s;
  }
  return PolicyEngine(std::move(config), std::move(version));
}

absl::StatusOr<const TierConfig*> PolicyEngine::FindTier(
    const MemberSnapshot& member) const {
  const auto it = tier_index_.find(member.tier);
  if (it == tier_index_.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("member ", member.member_id, " has tier \"", member.tier,
                     "\", which policy ", version_, " does not define"));
  }
  return &config_.tiers[it->second];
}

bool PolicyEngine::IsExcluded(const std::string& category) const {
  return !category.empty() && excluded_categories_.contains(category);
}

const ReasonRule* PolicyEngine::LineRule(Reason reason,
                                         const std::string& category,
                                         bool on_line) const {
  const ReasonRule* rule = RuleFor(reason);
  if (rule == nullptr || (rule->effect != RuleEffect::kRefundLineInFull &&
                          rule->effect != RuleEffect::kReplaceLine)) {
    return nullptr;
  }
  if (rule->categories.empty()) return on_line ? rule : nullptr;
  const bool listed = std::find(rule->categories.begin(),
                                rule->categories.end(),
                                category) != rule->categories.end();
  return listed ? rule : nullptr;
}

PolicyEngine::Claim PolicyEngine::AssessClaim(
    const TierConfig& tier, const OrderSnapshot& order,
    const RatingInput& rating,
    const std::vector<const LineRating*>& line_ratings,
    bool grant_in_kind) const {
  Claim claim;
  // Order-wide effects and feedback, from every reason given anywhere.
  const auto note_reason = [&](Reason reason) {
    const ReasonRule* rule = RuleFor(reason);
    if (rule == nullptr) return;
    if (rule->feedback == FeedbackTarget::kCourier) claim.to_courier |= Bit(reason);
    if (rule->feedback == FeedbackTarget::kStore) claim.to_store |= Bit(reason);
    if (rule->effect == RuleEffect::kRefundDeliveryFee &&
        order.delivery_fee_minor > 0) {
      claim.delivery_fee_minor = order.delivery_fee_minor;
      claim.fee |= Bit(reason);
    }
    if (rule->effect == RuleEffect::kCoupon) {
      claim.coupon_minor = std::max(claim.coupon_minor, rule->coupon_minor);
      claim.coupon |= Bit(reason);
    }
  };
  for (Reason reason : rating.reasons) note_reason(reason);
  for (const LineRating& line : rating.line_ratings) {
    for (Reason reason : line.reasons) note_reason(reason);
  }

  // A rating whose reasons are all about the delivery earns no curve refund.
  const auto curve_applies = [&](const std::vector<Reason>& reasons) {
    return reasons.empty() ||
           std::any_of(reasons.begin(), reasons.end(), [&](Reason reason) {
             const ReasonRule* rule = RuleFor(reason);
             return rule == nullptr || !rule->instead_of_curve;
           });
  };
  const bool per_line = !rating.line_ratings.empty();
  const bool order_curve = !per_line && curve_applies(rating.reasons);

  for (size_t i = 0; i < order.lines.size(); ++i) {
    const OrderLine& line = order.lines[i];
    const LineRating* line_rating = line_ratings[i];
    // The line rule that covers this line: its own tags first, then tags on
    // the whole order.
    const ReasonRule* rule = nullptr;
    if (line_rating != nullptr) {
      for (Reason reason : line_rating->reasons) {
        if ((rule = LineRule(reason, line.category, true)) != nullptr) break;
      }
    }
    for (size_t r = 0; rule == nullptr && r < rating.reasons.size(); ++r) {
      rule = LineRule(rating.reasons[r], line.category, false);
    }
    int64_t curve_minor = 0;
    if (line_rating != nullptr ? curve_applies(line_rating->reasons)
                               : order_curve) {
      curve_minor = CurveRefund(
          config_.curve,
          line_rating != nullptr ? line_rating->satisfaction
                                 : rating.satisfaction,
          tier.curve_scale_percent, line.amount_minor);
    }
    if (rule == nullptr && curve_minor == 0) continue;
    if (IsExcluded(line.category)) {
      claim.excluded_categories.push_back(line.category);
    } else if (rule != nullptr && rule->effect == RuleEffect::kReplaceLine &&
               grant_in_kind) {
      claim.replacement_line_ids.push_back(line.line_id);
      claim.replaced |= Bit(rule->reason);
    } else if (rule != nullptr) {
      // A line rule pays the whole line, which is never less than the curve.
      claim.goods_minor += line.amount_minor;
      claim.full_line |= Bit(rule->reason);
    } else {
      claim.goods_minor += curve_minor;
      claim.curve_paid = true;
    }
  }
  std::sort(claim.excluded_categories.begin(), claim.excluded_categories.end());
  claim.excluded_categories.erase(std::unique(claim.excluded_categories.begin(),
                                              claim.excluded_categories.end()),
                                  claim.excluded_categories.end());
  return claim;
}

absl::StatusOr<TrustReport> PolicyEngine::Trust(const MemberSnapshot& member,
                                                absl::Time now) const {
  absl::StatusOr<const TierConfig*> tier = FindTier(member);
  if (!tier.ok()) return tier.status();
  if (absl::Status s = CheckHistory(member); !s.ok()) return s;
  TrustReport report;
  report.member_id = member.member_id;
  report.tier = member.tier;
  report.factors = TrustFactors(config_, **tier, member, now);
  report.score = TrustScore(report.factors);
  report.instant_budget_remaining_minor = AvailableInstantBudget(
      (*tier)->instant_budget,
      CurrentInstantBudgetState((*tier)->instant_budget, member.instant_budget,
                                member.member_since),
      now);
  report.currency = config_.currency;
  report.policy_version = version_;
  return report;
}

absl::StatusOr<Decision> PolicyEngine::Decide(const MemberSnapshot& member,
                                              const OrderSnapshot& order,
                                              const RatingInput& rating,
                                              absl::Time now) const {
  absl::StatusOr<const TierConfig*> found_tier = FindTier(member);
  if (!found_tier.ok()) return found_tier.status();
  const TierConfig& tier = **found_tier;
  if (absl::Status s = CheckHistory(member); !s.ok()) return s;
  if (absl::Status s = CheckOrder(order, config_.currency); !s.ok()) return s;
  absl::StatusOr<std::vector<const LineRating*>> line_ratings =
      MapLineRatings(order, rating);
  if (!line_ratings.ok()) return line_ratings.status();
  if (now - order.delivered_at > config_.rating_window) {
    return absl::FailedPreconditionError(
        absl::StrCat("the rating window of order ", order.order_id,
                     " closed ", absl::FormatDuration(config_.rating_window),
                     " after delivery"));
  }

  Decision decision;
  decision.policy_version = version_;
  decision.trust_score = TrustScore(TrustFactors(config_, tier, member, now));
  const Band band = BandFor(config_.thresholds, decision.trust_score);
  const bool grant_in_kind = band == Band::kInstant || band == Band::kPartial;
  const int satisfaction = rating.satisfaction.value();
  const bool silent =
      !HasAnyReason(rating) &&
      satisfaction <= config_.follow_ups.silent_recovery_max_percent;
  decision.low_rating = satisfaction <= config_.low_rating_max_percent;
  const std::string& currency = config_.currency;
  Rationale why;

  // What the rating claims, and the rules behind it.
  Claim claim = AssessClaim(tier, order, rating, *line_ratings, grant_in_kind);
  if (claim.curve_paid) {
    why.Add("curve_proportional",
            "Items are refunded in proportion to your rating.");
  }
  for (int r = 0; r < kReasonCount; ++r) {
    const Reason reason = static_cast<Reason>(r);
    const absl::string_view name = ReasonName(reason);
    if (claim.full_line & Bit(reason)) {
      why.Add(absl::StrCat(name, "_full_line"),
              absl::StrCat("Items reported as ", Adjective(reason),
                           " are refunded in full."));
    }
    if (claim.replaced & Bit(reason)) {
      why.Add(absl::StrCat(name, "_replacement"),
              absl::StrCat("Items reported as ", Adjective(reason),
                           " are sent again."));
    }
    if (claim.fee & Bit(reason)) {
      why.Add(absl::StrCat(name, "_delivery_fee"),
              absl::StrCat("The delivery fee is refunded because the "
                           "delivery was reported as ",
                           Adjective(reason), "."));
    }
  }
  if (!claim.excluded_categories.empty()) {
    std::vector<std::string> names;
    for (const std::string& category : claim.excluded_categories) {
      names.push_back(absl::StrReplaceAll(category, {{"_", " "}}));
    }
    why.Add("excluded_category",
            absl::StrCat(Capitalized(JoinEnglish(names)),
                         " items cannot be refunded."));
  }

  // Hard ceilings: nothing above them is paid or reviewed.
  const int64_t requested = claim.goods_minor + claim.delivery_fee_minor;
  const int64_t order_left = order.total_minor - order.refunded_minor;
  const int64_t period_left =
      std::max<int64_t>(0, tier.max_refund_per_period_minor -
                               member.history.refunded_30d_minor);
  const int64_t eligible = std::min(
      {requested, order_left, tier.max_refund_per_order_minor, period_left});
  if (eligible < requested) {
    if (order_left == eligible) {
      why.Add("order_remaining_reached",
              "The refund is limited to what is left to refund on this "
              "order.");
    }
    if (tier.max_refund_per_order_minor == eligible) {
      why.Add("order_cap_reached",
              absl::StrCat("The refund is limited to ",
                           FormatMoney(tier.max_refund_per_order_minor,
                                       currency),
                           " per order for ", tier.name, " members."));
    }
    if (period_left == eligible) {
      why.Add("period_cap_reached",
              absl::StrCat("The refund is limited to ",
                           FormatMoney(tier.max_refund_per_period_minor,
                                       currency),
                           " per 30 days for ", tier.name, " members."));
    }
  }

  // The trust band and the instant budget split the eligible money into what
  // is paid now and what waits for review or evidence.
  const InstantBudgetState budget = CurrentInstantBudgetState(
      tier.instant_budget, member.instant_budget, member.member_since);
  const int64_t available =
      AvailableInstantBudget(tier.instant_budget, budget, now);
  const int64_t instant_target =
      band == Band::kInstant   ? eligible
      : band == Band::kPartial ? ScaleMinor(eligible,
                                            config_.thresholds
                                                .partial_instant_percent,
                                            100)
                               : 0;
  int64_t instant = std::min(instant_target, available);
  // A silent member asked for nothing: give what can be settled now, never
  // a review or an evidence request.
  int64_t review = silent ? 0 : eligible - instant;
  const bool coupon = claim.coupon_minor > 0 && eligible == 0 && grant_in_kind;
  const bool claimed = requested > 0 || claim.coupon_minor > 0 ||
                       !claim.replacement_line_ids.empty();

  if (band == Band::kDeny && claimed && !silent) {
    decision.outcome = Outcome::kDeny;
    instant = review = 0;
    why.Add("trust_denied");
  } else if (review > 0) {
    decision.outcome = band == Band::kEvidence ? Outcome::kRequestEvidence
                                               : Outcome::kManualReview;
    // In the instant band, review > 0 only when the budget ran short, which
    // instant_budget_exhausted reports below.
    if (band == Band::kEvidence) why.Add("evidence_required");
    if (band == Band::kReview) why.Add("manual_review_required");
    if (band == Band::kPartial) why.Add("partial_instant_settlement");
  } else if (instant > 0) {
    decision.outcome = Outcome::kRefund;  // kWalletCredit below if so paid
  } else if (!claim.replacement_line_ids.empty()) {
    decision.outcome = Outcome::kReplacement;
  } else if (coupon) {
    decision.outcome = Outcome::kCoupon;
  }
  if (decision.outcome != Outcome::kDeny && instant < instant_target) {
    why.Add("instant_budget_exhausted",
            instant > 0 ? absl::StrCat("Your instant-refund budget covers ",
                                       FormatMoney(instant, currency),
                                       " at once.")
                        : "Your instant-refund budget is used up for now.");
  }
  if (decision.outcome == Outcome::kCoupon) {
    for (int r = 0; r < kReasonCount; ++r) {
      if (claim.coupon & Bit(Reason(r))) {
        why.Add(absl::StrCat(ReasonName(Reason(r)), "_coupon"),
                absl::StrCat("You get a coupon because the delivery was "
                             "reported as ",
                             Adjective(Reason(r)), "."));
      }
    }
    decision.refund = Refund{.amount_minor = claim.coupon_minor,
                             .currency = currency,
                             .instrument = Instrument::kCoupon};
  }
  if (decision.outcome != Outcome::kDeny) {
    decision.replacement_line_ids = std::move(claim.replacement_line_ids);
  }

  // Instrument: cash, wallet and other payments can only get wallet credit.
  if (instant > 0) {
    Instrument instrument = Instrument::kWallet;
    switch (order.payment_method) {
      case PaymentMethod::kCash:
        why.Add("wallet_for_cash_payment",
                "Cash payments are refunded as wallet credit.");
        break;
      case PaymentMethod::kWallet:
        why.Add("wallet_for_wallet_payment",
                "Wallet payments are refunded to your wallet.");
        break;
      case PaymentMethod::kOther:
        why.Add("wallet_for_other_payment",
                "Your payment method cannot be refunded directly, so the "
                "refund is wallet credit.");
        break;
      case PaymentMethod::kCard:
        if (config_.prefer_wallet) {
          why.Add("wallet_preferred_by_policy",
                  "Refunds are paid as wallet credit under your membership.");
        } else {
          instrument = Instrument::kOriginalPayment;
        }
        break;
    }
    decision.refund = Refund{
        .amount_minor = instant, .currency = currency, .instrument = instrument};
    if (decision.outcome == Outcome::kRefund &&
        instrument == Instrument::kWallet) {
      decision.outcome = Outcome::kWalletCredit;
    }
  }
  decision.review_amount_minor = review;
  decision.instant_budget_used_minor = instant;
  decision.instant_budget_after =
      instant > 0 ? InstantBudgetState{.balance_minor = available - instant,
                                       .as_of = now}
                  : budget;
  if (silent) {
    why.Add("silent_recovery",
            instant > 0 ? "We noticed your low rating and made good at once, "
                          "without you having to ask."
                        : "");
  }

  // Follow-ups. A denied claim does not count against courier or store.
  if (decision.outcome != Outcome::kDeny) {
    if (claim.to_courier != 0 && !order.courier_id.empty()) {
      decision.follow_ups.push_back({FollowUpKind::kCourierFeedback,
                                     order.courier_id,
                                     ReasonNames(claim.to_courier)});
    }
    if (claim.to_store != 0) {
      decision.follow_ups.push_back({FollowUpKind::kStoreFeedback,
                                     order.store_id,
                                     ReasonNames(claim.to_store)});
    }
  }
  std::vector<std::string> manager_codes;
  if (tier.manager_follow_up_on_severe &&
      satisfaction <= config_.follow_ups.severe_max_percent) {
    manager_codes.push_back("severe_rating");
  }
  const std::optional<absl::Time>& last_low = member.history.last_low_rating_at;
  if (decision.low_rating && last_low.has_value() && *last_low <= now &&
      now - *last_low <= config_.follow_ups.repeat_window) {
    manager_codes.push_back("repeat_low_rating");
  }
  const bool manager = !manager_codes.empty();
  if (manager) {
    decision.follow_ups.push_back({FollowUpKind::kManagerFollowUp,
                                   member.member_id, std::move(manager_codes)});
  }
  if (silent) {
    decision.follow_ups.push_back(
        {FollowUpKind::kSilentRecovery, member.member_id, {"silent_low_rating"}});
  }

  // The explanation: a headline for the outcome, then each rule's sentence.
  const std::string paid_now =
      decision.refund.has_value()
          ? FormatMoney(decision.refund->amount_minor, currency)
          : std::string();
  const bool to_wallet = decision.refund.has_value() &&
                         decision.refund->instrument == Instrument::kWallet;
  std::string headline;
  switch (decision.outcome) {
    case Outcome::kNoAction:
      headline = "Thank you for your rating.";
      break;
    case Outcome::kRefund:
      headline = absl::StrCat("We have refunded ", paid_now,
                              " to your original payment.");
      break;
    case Outcome::kWalletCredit:
      headline = absl::StrCat("We have credited ", paid_now, " to your wallet.");
      break;
    case Outcome::kCoupon:
      headline = absl::StrCat("We have sent you a coupon worth ", paid_now, ".");
      break;
    case Outcome::kReplacement:
      headline = "Your replacement is on its way.";
      break;
    case Outcome::kRequestEvidence:
      headline = absl::StrCat(
          "Please send us a photo of the problem so that we can settle up to ",
          FormatMoney(review, currency), ".");
      break;
    case Outcome::kManualReview:
      headline =
          instant > 0
              ? absl::StrCat("We have ", to_wallet ? "credited " : "refunded ",
                             paid_now,
                             to_wallet ? " to your wallet"
                                       : " to your original payment",
                             " now; our team will review the remaining ",
                             FormatMoney(review, currency), ".")
              : absl::StrCat("Our team will review your request for ",
                             FormatMoney(review, currency),
                             " and get back to you.");
      break;
    case Outcome::kDeny:
      headline =
          "We cannot settle this request automatically; please contact "
          "support if you need help.";
      break;
  }
  if (manager) {
    why.Add("manager_follow_up",
            "A manager will contact you about this delivery.");
  }
  // A denial names no rule: its real reason (trust) is not for the member.
  decision.explanation = decision.outcome == Outcome::kDeny
                             ? std::move(headline)
                             : why.Explain(headline);
  decision.reason_codes = why.TakeCodes();
  return decision;
}

}  // namespace makegood::policy
