#include "services/policy/trust_score.h"

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/policy/decision.h"
#include "services/policy/engine.h"
#include "services/policy/policy_config.h"
#include "tests/unit/policy/policy_test_fixtures.h"

namespace makegood::policy {
namespace {

using ::makegood::policy::testing::DefaultEngine;
using ::makegood::policy::testing::EurPolicyConfig;
using ::makegood::policy::testing::kDay;
using ::makegood::policy::testing::kNow;
using ::makegood::policy::testing::NewBasic;
using ::makegood::policy::testing::TrustedPremium;
using ::testing::ElementsAre;
using ::testing::Field;

// The factor named `name` in the default policy's view of `member`.
TrustFactor Factor(const MemberSnapshot& member, absl::string_view name) {
  const PolicyConfig config = EurPolicyConfig();
  const TierConfig* tier = &config.tiers[0];
  for (const TierConfig& t : config.tiers) {
    if (t.name == member.tier) tier = &t;
  }
  for (TrustFactor& factor : TrustFactors(config, *tier, member, kNow)) {
    if (factor.name == name) return factor;
  }
  return {};
}

TEST(TrustReport, ExplainsEveryFactorOfATrustedPremiumMember) {
  const absl::StatusOr<TrustReport> report =
      DefaultEngine().Trust(TrustedPremium(), kNow);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->member_id, "m-premium");
  EXPECT_EQ(report->tier, "premium");
  EXPECT_EQ(report->score, 960);
  EXPECT_EQ(report->instant_budget_remaining_minor, 100'00);
  EXPECT_EQ(report->currency, "EUR");
  EXPECT_EQ(report->policy_version, "default@test");
  EXPECT_THAT(
      report->factors,
      ElementsAre(
          TrustFactor{"tier", 660, "premium tier"},
          TrustFactor{"tenure", 150, "member for 3 years"},
          TrustFactor{"delivered_orders", 100, "120 delivered orders"},
          TrustFactor{"refunds_30d", 0, "0 refunds in 30 days (2 free)"},
          TrustFactor{"refund_rate_90d", 0,
                      "refunds were 0% of spend in 90 days (10% tolerated)"},
          TrustFactor{"refund_money_90d", 0, "€0.00 refunded in 90 days"},
          TrustFactor{"low_ratings_30d", 0,
                      "0 low ratings in 30 days (2 free)"},
          TrustFactor{"flag_verified", 50, "flagged verified"}));
}

TEST(TrustScore, IsTheSumOfFactorsClampedTo0And1000) {
  EXPECT_EQ(
      TrustScore(std::vector<TrustFactor>{{"a", 300, ""}, {"b", -100, ""}}),
      200);
  EXPECT_EQ(
      TrustScore(std::vector<TrustFactor>{{"a", 900, ""}, {"b", 900, ""}}),
      1000);
  EXPECT_EQ(
      TrustScore(std::vector<TrustFactor>{{"a", 100, ""}, {"b", -900, ""}}), 0);
}

TEST(TrustFactors, TenureGrowsPerYearUpToItsMax) {
  MemberSnapshot member = NewBasic();
  member.member_since = kNow - 100 * kDay;
  EXPECT_EQ(Factor(member, "tenure"),
            (TrustFactor{"tenure", 13, "member for 100 days"}));
  member.member_since = kNow - 20 * 365 * kDay;
  EXPECT_EQ(Factor(member, "tenure").contribution, 150);
}

TEST(TrustFactors, MembershipStartingInTheFutureEarnsNoTenure) {
  MemberSnapshot member = NewBasic();
  member.member_since = kNow + 10 * kDay;
  EXPECT_EQ(Factor(member, "tenure").contribution, 0);
}

TEST(TrustFactors, DeliveredOrdersCountUpToTheirMax) {
  MemberSnapshot member = NewBasic();
  member.history.delivered_orders = 7;
  EXPECT_EQ(Factor(member, "delivered_orders").contribution, 14);
  member.history.delivered_orders = int64_t{1} << 60;  // no overflow
  EXPECT_EQ(Factor(member, "delivered_orders").contribution, 100);
}

TEST(TrustFactors, RefundsBeyondTheFreeAllowanceCostPoints) {
  MemberSnapshot member = NewBasic();
  member.history.refunds_30d = 2;
  EXPECT_EQ(Factor(member, "refunds_30d").contribution, 0);
  member.history.refunds_30d = 4;
  EXPECT_EQ(Factor(member, "refunds_30d").contribution, -80);
  member.history.refunds_30d = 100;
  EXPECT_EQ(Factor(member, "refunds_30d").contribution, -200);
}

TEST(TrustFactors, RefundRateAboveToleranceCostsPointsPerPercentagePoint) {
  MemberSnapshot member = NewBasic();
  member.history.spend_90d_minor = 100'00;
  member.history.refunded_90d_minor = 25'00;
  EXPECT_EQ(Factor(member, "refund_rate_90d").contribution, -150);
}

TEST(TrustFactors, RefundsWithoutSpendCountAsAFullRefundRate) {
  MemberSnapshot member = NewBasic();
  member.history.refunded_90d_minor = 1;
  EXPECT_EQ(Factor(member, "refund_rate_90d"),
            (TrustFactor{"refund_rate_90d", -400,
                         "refunds were 100% of spend in 90 days (10% "
                         "tolerated)"}));
}

TEST(TrustFactors, RefundedMoneyCostsPointsPerFullStep) {
  MemberSnapshot member = NewBasic();
  member.history.spend_90d_minor = 1'000'00;
  member.history.refunded_90d_minor = 149'99;  // two full steps of 50.00
  EXPECT_EQ(
      Factor(member, "refund_money_90d"),
      (TrustFactor{"refund_money_90d", -20, "€149.99 refunded in 90 days"}));
}

TEST(TrustFactors, LowRatingsBeyondTheFreeAllowanceCostPoints) {
  MemberSnapshot member = NewBasic();
  member.history.low_ratings_30d = 5;
  EXPECT_EQ(Factor(member, "low_ratings_30d").contribution, -60);
}

TEST(TrustFactors, OnlyWeightedFlagsCountInPolicyOrder) {
  MemberSnapshot member = NewBasic();
  member.flags = {"verified", "vip_lounge", "chargeback"};
  const PolicyConfig config = EurPolicyConfig();
  const std::vector<TrustFactor> factors =
      TrustFactors(config, config.tiers[0], member, kNow);
  ASSERT_EQ(factors.size(), 9);
  EXPECT_EQ(factors[7],
            (TrustFactor{"flag_chargeback", -300, "flagged chargeback"}));
  EXPECT_EQ(factors[8], (TrustFactor{"flag_verified", 50, "flagged verified"}));
}

TEST(TrustFactors, LinkedToAbuserDrivesANewMemberToZero) {
  MemberSnapshot member = NewBasic();
  member.flags = {"linked_to_abuser", "chargeback"};
  EXPECT_EQ(DefaultEngine().Trust(member, kNow)->score, 0);
}

}  // namespace
}  // namespace makegood::policy
