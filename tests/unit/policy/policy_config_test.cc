#include "services/policy/policy_config.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/policy/markets.h"

namespace makegood::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// The default policy's EUR market as a one-market policy.
PolicyConfig Eur() { return ForCurrency(DefaultPolicyConfig(), "EUR").value(); }

// The fields named by Validate(config).
std::vector<std::string> ViolatedFields(const PolicyConfig& config) {
  std::vector<std::string> fields;
  for (const Violation& violation : Validate(config)) {
    fields.push_back(violation.field);
  }
  return fields;
}

TEST(Validate, AcceptsTheDefaultPolicy) {
  EXPECT_THAT(Validate(DefaultPolicyConfig()), IsEmpty());
}

TEST(Validate, NamesTheBudgetFieldOfTheTier) {
  PolicyConfig config = Eur();
  config.tiers[1].instant_budget.capacity_minor = -1;
  EXPECT_THAT(Validate(config),
              ElementsAre(Violation{"tiers[1].instant_budget.capacity_minor",
                                    "must not be negative"},
                          Violation{"tiers[1].instant_budget.initial_minor",
                                    "must be in [0, 0]"}));
}

TEST(Validate, RejectsAnInitialBudgetAboveCapacity) {
  PolicyConfig config = Eur();
  config.tiers[0].instant_budget.initial_minor =
      config.tiers[0].instant_budget.capacity_minor + 1;
  EXPECT_THAT(ViolatedFields(config),
              ElementsAre("tiers[0].instant_budget.initial_minor"));
}

TEST(Validate, RequiresTiersWithUniqueWellFormedNames) {
  PolicyConfig config = Eur();
  config.tiers[1].name = "basic";
  config.tiers[2].name = "Premium";
  EXPECT_THAT(ViolatedFields(config),
              ElementsAre("tiers[1].name", "tiers[2].name"));
  config.tiers.clear();
  EXPECT_THAT(ViolatedFields(config), ElementsAre("tiers"));
}

TEST(Validate, ChecksTierRanges) {
  PolicyConfig config = Eur();
  config.tiers[0].base_trust = 1001;
  config.tiers[0].curve_scale_percent = 101;
  config.tiers[0].max_refund_per_order_minor = -1;
  config.tiers[0].max_refund_per_period_minor = -1;
  config.tiers[0].instant_budget.refill_per_day_minor = -1;
  EXPECT_THAT(ViolatedFields(config),
              ElementsAre("tiers[0].base_trust", "tiers[0].curve_scale_percent",
                          "tiers[0].max_refund_per_order_minor",
                          "tiers[0].max_refund_per_period_minor",
                          "tiers[0].instant_budget.refill_per_day_minor"));
}

TEST(Validate, RequiresACurveThatNeverRefundsLessForLessSatisfaction) {
  PolicyConfig config = Eur();
  config.curve[2].refund_percent = 100;  // (20, 100) -> (50, 100) is fine
  config.curve[3].refund_percent = 60;   // (50, 100) -> (80, 60) is fine
  config.curve[4].refund_percent = 70;   // rises again: refused
  EXPECT_THAT(Validate(config),
              ElementsAre(Violation{
                  "curve[4].refund_percent",
                  "must not exceed the previous point's (less satisfaction "
                  "never refunds less)"}));
}

TEST(Validate, RequiresACurveFrom0To100InIncreasingOrder) {
  PolicyConfig config = Eur();
  config.curve = {{10, 100}, {10, 50}, {90, 0}};
  EXPECT_THAT(ViolatedFields(config),
              ElementsAre("curve[1].satisfaction_percent",
                          "curve[0].satisfaction_percent",
                          "curve[2].satisfaction_percent"));
  config.curve = {{0, 100}};
  EXPECT_THAT(ViolatedFields(config), ElementsAre("curve"));
  config.curve = {{0, 101}, {100, -1}};
  EXPECT_THAT(ViolatedFields(config), ElementsAre("curve[0].refund_percent",
                                                  "curve[1].refund_percent"));
}

TEST(Validate, ChecksReasonRules) {
  PolicyConfig config = Eur();
  config.reason_rules[1].reason = config.reason_rules[0].reason;
  config.reason_rules[2].categories = {"Not A Category"};
  config.reason_rules[5].categories = {"frozen"};  // the late rule pays a fee
  config.reason_rules[6].coupon_minor = 0;         // a coupon of nothing
  config.reason_rules[3].coupon_minor = 1;         // not a coupon rule
  EXPECT_THAT(
      ViolatedFields(config),
      ElementsAre("reason_rules[1].reason", "reason_rules[2].categories[0]",
                  "reason_rules[3].coupon_minor", "reason_rules[5].categories",
                  "reason_rules[6].coupon_minor"));
}

TEST(Validate, RejectsAnUnknownReason) {
  PolicyConfig config = Eur();
  config.reason_rules[0].reason = static_cast<Reason>(42);
  EXPECT_THAT(ViolatedFields(config), ElementsAre("reason_rules[0].reason"));
}

TEST(Validate, RequiresThresholdsInDescendingOrder) {
  PolicyConfig config = Eur();
  config.thresholds.partial_min_score = 600;  // above instant (500)
  config.thresholds.partial_instant_percent = 150;
  EXPECT_THAT(ViolatedFields(config),
              ElementsAre("thresholds.partial_min_score",
                          "thresholds.partial_instant_percent"));
}

TEST(Validate, ChecksTheTrustModel) {
  PolicyConfig config = Eur();
  config.trust.penalty_per_extra_refund_30d = -5;
  config.trust.refund_money_step_minor = 0;
  config.trust.flag_weights[0].flag = "Charge-back";
  config.trust.flag_weights[1].flag = "verified";  // also flag_weights[3]
  config.trust.flag_weights[3].points = -2000;
  EXPECT_THAT(
      ViolatedFields(config),
      ElementsAre("trust.penalty_per_extra_refund_30d",
                  "trust.refund_money_step_minor", "trust.flag_weights[0].flag",
                  "trust.flag_weights[3].flag",
                  "trust.flag_weights[3].points"));
}

TEST(Validate, ChecksTopLevelFields) {
  PolicyConfig config = Eur();
  config.name = "";
  config.currency = "eur";
  config.excluded_categories = {"alcohol", "alcohol", "gift_card", "tobacco"};
  config.follow_ups.severe_max_percent = -1;
  config.follow_ups.repeat_window = absl::Seconds(-1);
  config.follow_ups.silent_recovery_max_percent = 101;
  config.low_rating_max_percent = 101;
  config.rating_window = absl::ZeroDuration();
  EXPECT_THAT(
      ViolatedFields(config),
      ElementsAre("name", "currency", "excluded_categories[1]",
                  "follow_ups.severe_max_percent", "follow_ups.repeat_window",
                  "follow_ups.silent_recovery_max_percent",
                  "low_rating_max_percent", "rating_window"));
}

TEST(ViolationsToStatus, ListsEveryViolationAsInvalidArgument) {
  EXPECT_TRUE(ViolationsToStatus({}).ok());
  const absl::Status status =
      ViolationsToStatus({{"name", "must be set"}, {"curve", "too short"}});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "name: must be set; curve: too short");
}

}  // namespace
}  // namespace makegood::policy
