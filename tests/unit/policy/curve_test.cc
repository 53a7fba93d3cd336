#include "services/policy/curve.h"

#include <vector>

#include "gtest/gtest.h"
#include "services/policy/policy_config.h"
#include "tests/unit/policy/policy_test_fixtures.h"

namespace makegood::policy {
namespace {

using ::makegood::policy::testing::Pct;

const std::vector<CurvePoint> kCurve = {
    {0, 100}, {20, 100}, {50, 50}, {80, 0}, {100, 0}};

double Share(int satisfaction) {
  const Fraction f = CurveShare(kCurve, Pct(satisfaction));
  return static_cast<double>(f.numerator) / f.denominator;
}

TEST(CurveShare, IsExactAtThePoints) {
  EXPECT_DOUBLE_EQ(Share(0), 1.0);
  EXPECT_DOUBLE_EQ(Share(20), 1.0);
  EXPECT_DOUBLE_EQ(Share(50), 0.5);
  EXPECT_DOUBLE_EQ(Share(80), 0.0);
  EXPECT_DOUBLE_EQ(Share(100), 0.0);
}

TEST(CurveShare, InterpolatesLinearlyBetweenPoints) {
  EXPECT_DOUBLE_EQ(Share(35), 0.75);
  EXPECT_DOUBLE_EQ(Share(65), 0.25);
}

TEST(CurveShare, NeverRisesWithSatisfaction) {
  for (int s = 1; s <= 100; ++s) EXPECT_LE(Share(s), Share(s - 1)) << s;
}

TEST(CurveRefund, AppliesShareAndScaleRoundingDown) {
  EXPECT_EQ(CurveRefund(kCurve, Pct(50), 100, 6'00), 3'00);
  EXPECT_EQ(CurveRefund(kCurve, Pct(50), 80, 6'00), 2'40);
  EXPECT_EQ(CurveRefund(kCurve, Pct(60), 100, 1'00), 33);  // 33.3
  EXPECT_EQ(CurveRefund(kCurve, Pct(0), 100, 6'00), 6'00);
}

}  // namespace
}  // namespace makegood::policy
