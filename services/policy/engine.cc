#include "services/policy/engine.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "services/policy/claim.h"
#include "services/policy/instant_budget.h"
#include "services/policy/markets.h"
#include "services/policy/money.h"
#include "services/policy/trust_score.h"

namespace makegood::policy {
namespace {

// ---- Input checks ----------------------------------------------------------

absl::Status CheckHistory(const MemberSnapshot& member) {
  const MemberHistory& h = member.history;
  for (int64_t counter : {h.delivered_orders, h.spend_90d_minor, h.refunds_30d,
                          h.refunded_30d_minor, h.refunds_90d,
                          h.refunded_90d_minor, h.low_ratings_30d}) {
    if (counter < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("member ", member.member_id,
                       ": history counters must not be negative"));
    }
  }
  return absl::OkStatus();
}

// The order's currency picks the market (PolicyEngine::MarketFor).
absl::Status CheckOrder(const OrderSnapshot& order) {
  if (order.total_minor < 0 || order.delivery_fee_minor < 0 ||
      order.delivery_fee_minor > order.total_minor ||
      order.refunded_minor < 0 || order.refunded_minor > order.total_minor) {
    return absl::InvalidArgumentError(absl::StrCat(
        "order ", order.order_id,
        ": total, delivery fee and refunded amounts must be non-negative, "
        "with the fee and refunded amount at most the total"));
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

absl::Status CheckReasons(absl::Span<const Reason> reasons) {
  for (Reason reason : reasons) {
    const int value = static_cast<int>(reason);
    if (value < 0 || value >= kReasonCount) {
      return absl::InvalidArgumentError(absl::StrCat("unknown reason ", value));
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
      return absl::InvalidArgumentError(absl::StrCat("order ", order.order_id,
                                                     " repeats line id ",
                                                     order.lines[i].line_id));
    }
  }
  for (const LineRating& line_rating : rating.line_ratings) {
    if (absl::Status s = CheckReasons(line_rating.reasons); !s.ok()) return s;
    const auto it = index.find(line_rating.line_id);
    if (it == index.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "order ", order.order_id, " has no line ", line_rating.line_id));
    }
    if (by_line[it->second] != nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_rating.line_id, " is rated twice"));
    }
    by_line[it->second] = &line_rating;
  }
  return by_line;
}

// ---- Explanation helpers ---------------------------------------------------

// The reason codes of a decision, each with the sentence (possibly empty)
// that explains it to the member, in the order they were added.
class Rationale {
 public:
  void Add(std::string code, std::string sentence = {}) {
    codes_.push_back(std::move(code));
    Say(std::move(sentence));
  }
  // A sentence with no reason code of its own.
  void Say(std::string sentence) {
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

// "Alcohol", "Alcohol and gift card", "Alcohol, gift card and tobacco".
std::string CategoryList(absl::Span<const std::string> categories) {
  std::vector<std::string> names;
  for (const std::string& category : categories) {
    names.push_back(absl::StrReplaceAll(category, {{"_", " "}}));
  }
  std::string list =
      names.size() <= 1
          ? absl::StrJoin(names, "")
          : absl::StrCat(
                absl::StrJoin(
                    absl::MakeConstSpan(names).first(names.size() - 1), ", "),
                " and ", names.back());
  if (!list.empty() && list[0] >= 'a' && list[0] <= 'z') {
    list[0] = static_cast<char>(list[0] - 'a' + 'A');
  }
  return list;
}

std::vector<std::string> ReasonNames(ReasonSet reasons) {
  std::vector<std::string> names;
  for (int r = 0; r < kReasonCount; ++r) {
    const Reason reason = static_cast<Reason>(r);
    if (reasons & ReasonBit(reason)) names.emplace_back(ReasonName(reason));
  }
  return names;
}

// ---- Decision stages, in the order Decide() runs them ----------------------

enum class Band { kInstant, kPartial, kEvidence, kReview, kDeny };

Band BandFor(const TrustThresholds& t, int score) {
  if (score >= t.instant_min_score) return Band::kInstant;
  if (score >= t.partial_min_score) return Band::kPartial;
  if (score >= t.evidence_min_score) return Band::kEvidence;
  if (score >= t.review_min_score) return Band::kReview;
  return Band::kDeny;
}

bool HasAnyReason(const RatingInput& rating) {
  return !rating.reasons.empty() ||
         std::any_of(
             rating.line_ratings.begin(), rating.line_ratings.end(),
             [](const LineRating& line) { return !line.reasons.empty(); });
}

// The codes of the rules that made the claim (coupons are added only once
// granted).
void ExplainClaim(const Claim& claim, Rationale& why) {
  if (claim.curve_paid) {
    why.Add("curve_proportional",
            "Items are refunded in proportion to your rating.");
  }
  for (int r = 0; r < kReasonCount; ++r) {
    const Reason reason = static_cast<Reason>(r);
    const absl::string_view name = ReasonName(reason);
    if (claim.full_line & ReasonBit(reason)) {
      why.Add(absl::StrCat(name, "_full_line"),
              absl::StrCat("Items reported as ", Adjective(reason),
                           " are refunded in full."));
    }
    if (claim.replaced & ReasonBit(reason)) {
      why.Add(absl::StrCat(name, "_replacement"),
              absl::StrCat("Items reported as ", Adjective(reason),
                           " are sent again."));
    }
    if (claim.fee & ReasonBit(reason)) {
      why.Add(absl::StrCat(name, "_delivery_fee"),
              absl::StrCat("The delivery fee is refunded because the delivery "
                           "was reported as ",
                           Adjective(reason), "."));
    }
  }
  if (!claim.excluded_categories.empty()) {
    why.Add("excluded_category",
            absl::StrCat(CategoryList(claim.excluded_categories),
                         " items cannot be refunded."));
  }
}

// Stable code of an excluded-category answer, e.g. "excluded_category_review".
std::string ExcludedAnswerCode(ExcludedAnswerKind kind) {
  switch (kind) {
    case ExcludedAnswerKind::kEvidence:
      return "excluded_category_evidence";
    case ExcludedAnswerKind::kReview:
      return "excluded_category_review";
    case ExcludedAnswerKind::kCoupon:
      return "excluded_category_coupon";
    case ExcludedAnswerKind::kPartialRefund:
      return "excluded_category_partial_refund";
  }
  return "excluded_category_review";
}

// What this rating is owed: the part of `requested` beyond what earlier
// ratings of the order already refunded (a second rating may raise the
// refund, never duplicate it), cut to the order's refundable remainder and the
// tier's caps. The per-order cap counts the earlier refunds too.
int64_t ApplyCeilings(int64_t requested, const TierConfig& tier,
                      const MemberSnapshot& member, const OrderSnapshot& order,
                      const PolicyConfig& config, const std::string& locale,
                      Rationale& why) {
  const auto money = [&config, &locale](int64_t amount) {
    return FormatMoney(amount, config.currency, locale);
  };
  int64_t due = requested;
  if (order.refunded_minor > 0 && requested > 0) {
    due = std::max<int64_t>(0, requested - order.refunded_minor);
    const std::string earlier = money(order.refunded_minor);
    why.Add("earlier_refunds_deducted",
            due == 0 ? absl::StrCat("Earlier refunds of ", earlier,
                                    " on this order already cover it.")
                     : absl::StrCat("Earlier refunds of ", earlier,
                                    " on this order are deducted."));
  }
  const int64_t order_left = order.total_minor - order.refunded_minor;
  const int64_t order_cap_left = std::max<int64_t>(
      0, tier.max_refund_per_order_minor - order.refunded_minor);
  const int64_t period_left = std::max<int64_t>(
      0, tier.max_refund_per_period_minor - member.history.refunded_30d_minor);
  const int64_t eligible =
      std::min({due, order_left, order_cap_left, period_left});
  if (eligible == due) return eligible;
  if (order_left == eligible) {
    why.Add("order_remaining_reached",
            "The refund is limited to what is left to refund on this order.");
  }
  if (order_cap_left == eligible) {
    why.Add("order_cap_reached",
            absl::StrCat("The refund is limited to ",
                         money(tier.max_refund_per_order_minor),
                         " per order for ", tier.name, " members."));
  }
  if (period_left == eligible) {
    why.Add("period_cap_reached",
            absl::StrCat("The refund is limited to ",
                         money(tier.max_refund_per_period_minor),
                         " per 30 days for ", tier.name, " members."));
  }
  return eligible;
}

// Where instant money goes: cash, wallet and other payments can only get
// wallet credit; cards get their money back unless the policy prefers wallet.
Instrument ChooseInstrument(PaymentMethod method, bool prefer_wallet,
                            Rationale& why) {
  switch (method) {
    case PaymentMethod::kCash:
      why.Add("wallet_for_cash_payment",
              "Cash payments are refunded as wallet credit.");
      return Instrument::kWallet;
    case PaymentMethod::kWallet:
      why.Add("wallet_for_wallet_payment",
              "Wallet payments are refunded to your wallet.");
      return Instrument::kWallet;
    case PaymentMethod::kOther:
      why.Add("wallet_for_other_payment",
              "Your payment method cannot be refunded directly, so the refund "
              "is wallet credit.");
      return Instrument::kWallet;
    case PaymentMethod::kCard:
      break;
  }
  if (!prefer_wallet) return Instrument::kOriginalPayment;
  why.Add("wallet_preferred_by_policy",
          "Refunds are paid as wallet credit under your membership.");
  return Instrument::kWallet;
}

// The first sentence of the explanation, from what the decision does.
std::string Headline(const Decision& decision, const PolicyConfig& config,
                     const std::string& locale) {
  const std::string now =
      decision.refund.has_value()
          ? FormatMoney(decision.refund->amount_minor, config.currency, locale)
          : std::string();
  const std::string later =
      FormatMoney(decision.review_amount_minor, config.currency, locale);
  const bool to_wallet = decision.refund.has_value() &&
                         decision.refund->instrument == Instrument::kWallet;
  switch (decision.outcome) {
    case Outcome::kNoAction:
      return "Thank you for your rating.";
    case Outcome::kRefund:
      return absl::StrCat("We have refunded ", now,
                          " to your original payment.");
    case Outcome::kWalletCredit:
      return absl::StrCat("We have credited ", now, " to your wallet.");
    case Outcome::kCoupon:
      return absl::StrCat("We have sent you a coupon worth ", now, ".");
    case Outcome::kReplacement:
      return "Your replacement is on its way.";
    case Outcome::kRequestEvidence:
      return absl::StrCat(
          "Please send us a photo of the problem so that we can settle up to ",
          later, ".");
    case Outcome::kManualReview:
      if (!decision.refund.has_value()) {
        return absl::StrCat("Our team will review your request for ", later,
                            " and get back to you.");
      }
      return absl::StrCat(
          "We have ", to_wallet ? "credited " : "refunded ", now,
          to_wallet ? " to your wallet" : " to your original payment",
          " now; our team will review the remaining ", later, ".");
    case Outcome::kDeny:
      return "We cannot settle this request automatically; please contact "
             "support if you need help.";
  }
  return "";
}

}  // namespace

PolicyEngine::PolicyEngine(PolicyConfig config, std::string version)
    : config_(std::move(config)), version_(std::move(version)) {}

absl::StatusOr<PolicyEngine> PolicyEngine::Create(PolicyConfig config,
                                                  std::string version) {
  if (absl::Status s = ViolationsToStatus(Validate(config)); !s.ok()) {
    return s;
  }
  PolicyEngine engine(std::move(config), std::move(version));
  // One compiled view per currency, once: a decision only looks it up.
  for (const std::string& currency : ServedCurrencies(engine.config_)) {
    absl::StatusOr<PolicyConfig> view = ForCurrency(engine.config_, currency);
    if (!view.ok()) return view.status();
    engine.markets_.emplace(currency, CompiledPolicy(*std::move(view)));
  }
  engine.primary_currency_ = PrimaryCurrency(engine.config_);
  return engine;
}

absl::StatusOr<const CompiledPolicy*> PolicyEngine::MarketFor(
    absl::string_view currency) const {
  const auto it = markets_.find(currency);
  if (it == markets_.end()) {
    // ForCurrency's FAILED_PRECONDITION names the currency and those served.
    absl::StatusOr<PolicyConfig> view = ForCurrency(config_, currency);
    return view.ok() ? absl::InternalError("market not compiled")
                     : view.status();
  }
  return &it->second;
}

absl::StatusOr<const PolicyConfig*> PolicyEngine::MarketConfig(
    absl::string_view currency) const {
  absl::StatusOr<const CompiledPolicy*> market = MarketFor(currency);
  if (!market.ok()) return market.status();
  return &(*market)->config();
}

absl::StatusOr<const TierConfig*> PolicyEngine::FindTier(
    const CompiledPolicy& policy, const MemberSnapshot& member) const {
  const TierConfig* tier = policy.FindTier(member.tier);
  if (tier == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("member ", member.member_id, " has tier \"", member.tier,
                     "\", which policy ", version_, " does not define"));
  }
  return tier;
}

absl::StatusOr<TrustReport> PolicyEngine::Trust(const MemberSnapshot& member,
                                                absl::Time now) const {
  return Trust(member, primary_currency_, now);
}

absl::StatusOr<TrustReport> PolicyEngine::Trust(const MemberSnapshot& member,
                                                absl::string_view currency,
                                                absl::Time now) const {
  absl::StatusOr<const CompiledPolicy*> market = MarketFor(currency);
  if (!market.ok()) return market.status();
  const PolicyConfig& config = (*market)->config();
  absl::StatusOr<const TierConfig*> tier = FindTier(**market, member);
  if (!tier.ok()) return tier.status();
  if (absl::Status s = CheckHistory(member); !s.ok()) return s;
  const InstantBudgetConfig& budget = (*tier)->instant_budget;
  TrustReport report;
  report.member_id = member.member_id;
  report.tier = member.tier;
  report.factors = TrustFactors(config, **tier, member, now);
  report.score = TrustScore(report.factors);
  report.instant_budget_remaining_minor = AvailableInstantBudget(
      budget,
      CurrentInstantBudgetState(budget, member.instant_budget,
                                member.member_since),
      now);
  report.currency = config.currency;
  report.policy_version = version_;
  return report;
}

absl::StatusOr<Decision> PolicyEngine::Decide(const MemberSnapshot& member,
                                              const OrderSnapshot& order,
                                              const RatingInput& rating,
                                              absl::Time now) const {
  absl::StatusOr<const CompiledPolicy*> market = MarketFor(order.currency);
  if (!market.ok()) return market.status();
  const CompiledPolicy& policy = **market;
  const PolicyConfig& config = policy.config();
  absl::StatusOr<const TierConfig*> found_tier = FindTier(policy, member);
  if (!found_tier.ok()) return found_tier.status();
  const TierConfig& tier = **found_tier;
  if (absl::Status s = CheckHistory(member); !s.ok()) return s;
  if (absl::Status s = CheckOrder(order); !s.ok()) return s;
  absl::StatusOr<std::vector<const LineRating*>> line_ratings =
      MapLineRatings(order, rating);
  if (!line_ratings.ok()) return line_ratings.status();
  if (now - order.delivered_at > config.rating_window) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the rating window of order ", order.order_id, " closed ",
        absl::FormatDuration(config.rating_window), " after delivery"));
  }

  Decision decision;
  decision.policy_version = version_;
  decision.trust_score = MemberTrustScore(config, tier, member, now);
  const int satisfaction = rating.satisfaction.value();
  // Amounts in the explanation: the member's locale when the request gives
  // one, else the market's.
  const std::string& locale =
      rating.locale.empty() ? config.locale : rating.locale;
  decision.low_rating = satisfaction <= config.low_rating_max_percent;
  decision.trouble = HasAnyReason(rating) ||
                     satisfaction <= config.trouble_max_percent.value_or(
                                         config.low_rating_max_percent);
  // A silent member asked for nothing: they get what can be settled at once,
  // never a review or an evidence request.
  const bool silent =
      !HasAnyReason(rating) &&
      satisfaction <= config.follow_ups.silent_recovery_max_percent;
  const Band band = BandFor(config.thresholds, decision.trust_score);
  // Coupons and replacements are granted at once or not at all.
  const bool grant_in_kind = band == Band::kInstant || band == Band::kPartial;
  Rationale why;

  // 1. What the rating claims.
  Claim claim =
      AssessClaim(policy, tier, order, rating, *line_ratings, grant_in_kind);
  // Excluded categories the policy answers: a partial refund is already in
  // goods_minor; review and evidence answers (and coupon answers for members
  // not trusted to settle at once) send the claimed value to a person.
  // A silent member asked for nothing and gets no review or evidence
  // request: answers that need one are only told the items cannot be
  // refunded (the silent-recovery follow-up still has a person act).
  if (silent) {
    std::erase_if(claim.answered, [&](const Claim::ExcludedClaim& answered) {
      const ExcludedAnswerKind kind = answered.answer.answer;
      const bool to_a_person =
          kind == ExcludedAnswerKind::kEvidence ||
          kind == ExcludedAnswerKind::kReview ||
          (kind == ExcludedAnswerKind::kCoupon && !grant_in_kind);
      if (to_a_person) claim.excluded_categories.push_back(answered.category);
      return to_a_person;
    });
    std::vector<std::string>& excluded = claim.excluded_categories;
    std::sort(excluded.begin(), excluded.end());
    excluded.erase(std::unique(excluded.begin(), excluded.end()),
                   excluded.end());
  }
  int64_t excluded_review_minor = 0;
  bool excluded_evidence = false;
  bool excluded_coupon = false;
  for (const Claim::ExcludedClaim& answered : claim.answered) {
    switch (answered.answer.answer) {
      case ExcludedAnswerKind::kEvidence:
        excluded_evidence = true;
        excluded_review_minor += answered.claimed_minor;
        break;
      case ExcludedAnswerKind::kReview:
        excluded_review_minor += answered.claimed_minor;
        break;
      case ExcludedAnswerKind::kCoupon:
        if (grant_in_kind) {
          excluded_coupon = config.excluded_coupon_minor > 0;
        } else {
          excluded_review_minor += answered.claimed_minor;
        }
        break;
      case ExcludedAnswerKind::kPartialRefund:
        break;
    }
  }
  if (excluded_coupon) {
    claim.coupon_minor =
        std::max(claim.coupon_minor, config.excluded_coupon_minor);
  }
  // Grants in kind already made on this order are not made again, just as
  // earlier refunds are deducted below: a later rating can only add to them.
  if (order.coupon_granted_minor > 0 && claim.coupon_minor > 0) {
    claim.coupon_minor =
        std::max<int64_t>(0, claim.coupon_minor - order.coupon_granted_minor);
    why.Add("earlier_coupon_deducted",
            "A coupon was already given for this order.");
  }
  if (!order.replaced_line_ids.empty()) {
    const size_t before = claim.replacement_line_ids.size();
    std::erase_if(claim.replacement_line_ids, [&order](const std::string& id) {
      return std::find(order.replaced_line_ids.begin(),
                       order.replaced_line_ids.end(),
                       id) != order.replaced_line_ids.end();
    });
    if (claim.replacement_line_ids.size() < before) {
      why.Add("earlier_replacement_deducted",
              "Items already sent again for this order are not sent twice.");
    }
  }
  ExplainClaim(claim, why);
  // Each answer's code once, each explanation once, in line order.
  {
    std::vector<std::string> said;
    for (const Claim::ExcludedClaim& answered : claim.answered) {
      const std::string code = ExcludedAnswerCode(answered.answer.answer);
      if (std::find(said.begin(), said.end(), code) == said.end()) {
        said.push_back(code);
        why.Add(code);
      }
      if (std::find(said.begin(), said.end(), answered.answer.explanation) ==
          said.end()) {
        said.push_back(answered.answer.explanation);
        why.Say(answered.answer.explanation);
      }
    }
  }
  const int64_t requested =
      claim.goods_minor + claim.delivery_fee_minor + excluded_review_minor;

  // 2. Earlier refunds of the order and hard ceilings: nothing above them is
  // ever paid or reviewed.
  const int64_t eligible =
      ApplyCeilings(requested, tier, member, order, config, locale, why);
  // Money already refunded on the order is not claimed again, so a rating
  // it fully covers is no claim (no action rather than a denial).
  const bool claimed = requested > order.refunded_minor ||
                       claim.coupon_minor > 0 ||
                       !claim.replacement_line_ids.empty();

  // 3. The trust band and the instant budget split the eligible money into
  // what is paid now and what waits for review or evidence.
  const InstantBudgetState budget = CurrentInstantBudgetState(
      tier.instant_budget, member.instant_budget, member.member_since);
  const int64_t available =
      AvailableInstantBudget(tier.instant_budget, budget, now);
  // What an excluded category's answer sends to a person is never paid at
  // once. The ceilings cut it first: the rest of the claim (less earlier
  // refunds) keeps its place in the part that may be paid at once.
  const int64_t instant_pool = std::min(
      eligible, std::max<int64_t>(0, requested - excluded_review_minor -
                                         order.refunded_minor));
  const int64_t forced_review = eligible - instant_pool;
  // A claim for a large share of the order's goods (the shape of serial
  // refunding: the whole basket "missing") is checked by a person before
  // anything is paid, in every band. A silent rating of that shape is not
  // paid at once either (it would be the way around the rule: the same
  // claim without its reasons); its recovery follow-up has a person act.
  const int64_t goods_value =
      std::max<int64_t>(0, order.total_minor - order.delivery_fee_minor);
  const int large_percent = config.thresholds.large_claim_review_percent;
  const int large_lines = config.thresholds.large_claim_review_lines;
  const bool large_claim = (large_percent > 0 && goods_value > 0 &&
                            (requested - claim.delivery_fee_minor) * 100 >
                                goods_value * large_percent) ||
                           (large_lines > 0 && claim.whole_lines > large_lines);
  const int64_t instant_target =
      large_claim              ? 0
      : band == Band::kInstant ? instant_pool
      : band == Band::kPartial
          ? ScaleMinor(instant_pool, config.thresholds.partial_instant_percent,
                       100)
          : 0;
  int64_t instant = std::min(instant_target, available);
  int64_t review = silent ? 0 : eligible - instant;

  // 4. The outcome.
  if (band == Band::kDeny && claimed && !silent) {
    decision.outcome = Outcome::kDeny;
    instant = review = 0;
    why.Add("trust_denied");
  } else if (review > 0) {
    // An evidence answer asks for evidence unless money is paid at once (a
    // person then reviews the rest).
    const bool evidence =
        band == Band::kEvidence ||
        (forced_review > 0 && excluded_evidence && instant == 0);
    decision.outcome =
        evidence ? Outcome::kRequestEvidence : Outcome::kManualReview;
    // In the instant band, review > 0 only when the budget ran short, which
    // instant_budget_exhausted reports below.
    if (band == Band::kEvidence) why.Add("evidence_required");
    if (band == Band::kReview) why.Add("manual_review_required");
    if (band == Band::kPartial) why.Add("partial_instant_settlement");
    if (large_claim) {
      why.Add("large_claim_review",
              "A claim for most of the order is checked by our team before "
              "it is paid.");
    }
  } else if (instant > 0) {
    decision.outcome = Outcome::kRefund;  // or kWalletCredit, see step 5
  } else if (!claim.replacement_line_ids.empty()) {
    decision.outcome = Outcome::kReplacement;
  } else if (claim.coupon_minor > 0 && eligible == 0 && grant_in_kind) {
    decision.outcome = Outcome::kCoupon;
    for (int r = 0; r < kReasonCount; ++r) {
      const Reason reason = static_cast<Reason>(r);
      if (claim.coupon & ReasonBit(reason)) {
        why.Add(absl::StrCat(ReasonName(reason), "_coupon"),
                absl::StrCat("You get a coupon because the delivery was "
                             "reported as ",
                             Adjective(reason), "."));
      }
    }
    if (excluded_coupon) why.Add("excluded_category_coupon_granted");
    decision.refund = Refund{.amount_minor = claim.coupon_minor,
                             .currency = config.currency,
                             .instrument = Instrument::kCoupon};
  }
  if (decision.outcome != Outcome::kDeny) {
    if (instant < instant_target) {
      why.Add("instant_budget_exhausted",
              instant > 0
                  ? absl::StrCat("Your instant-refund budget covers ",
                                 FormatMoney(instant, config.currency, locale),
                                 " at once.")
                  : "Your instant-refund budget is used up for now.");
    }
    decision.replacement_line_ids = std::move(claim.replacement_line_ids);
  }

  // 5. The money paid now, where it goes, and what it draws from the budget.
  if (instant > 0) {
    const Instrument instrument =
        ChooseInstrument(order.payment_method, config.prefer_wallet, why);
    decision.refund = Refund{.amount_minor = instant,
                             .currency = config.currency,
                             .instrument = instrument};
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
  if (silent && large_claim) {
    why.Add("large_claim_review",
            "Someone from our team will contact you about this delivery.");
  }
  if (silent) {
    why.Add("silent_recovery",
            instant > 0 ? "We noticed your low rating and made good at once, "
                          "without you having to ask."
                        : "");
  }

  // 6. Follow-ups. A denied claim does not count against courier or store.
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
      satisfaction <= config.follow_ups.severe_max_percent) {
    manager_codes.push_back("severe_rating");
  }
  const std::optional<absl::Time>& last_low = member.history.last_low_rating_at;
  if (decision.low_rating && last_low.has_value() && *last_low <= now &&
      now - *last_low <= config.follow_ups.repeat_window) {
    manager_codes.push_back("repeat_low_rating");
  }
  // A claim on an excluded category that the policy answers asks a person to
  // act (follow the review, the evidence, or the member's item) unless denied.
  if (!claim.answered.empty() && decision.outcome != Outcome::kDeny) {
    manager_codes.push_back("excluded_category_claim");
  }
  if (!manager_codes.empty()) {
    decision.follow_ups.push_back({FollowUpKind::kManagerFollowUp,
                                   member.member_id, std::move(manager_codes)});
    // Its reason codes travel with the follow-up.
    why.Say("A manager will contact you about this delivery.");
  }
  if (silent) {
    decision.follow_ups.push_back({FollowUpKind::kSilentRecovery,
                                   member.member_id,
                                   {"silent_low_rating"}});
  }

  // 7. The explanation. A denial names no rule: its real reason (trust) is
  // not for the member.
  const std::string headline = Headline(decision, config, locale);
  decision.explanation =
      decision.outcome == Outcome::kDeny ? headline : why.Explain(headline);
  decision.reason_codes = why.TakeCodes();
  return decision;
}

}  // namespace makegood::policy
