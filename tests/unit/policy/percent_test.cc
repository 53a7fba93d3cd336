#include "services/policy/percent.h"

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace makegood::policy {
namespace {

TEST(Percent, FromIntAcceptsZeroToHundred) {
  EXPECT_EQ(Percent::FromInt(0)->value(), 0);
  EXPECT_EQ(Percent::FromInt(100)->value(), 100);
}

TEST(Percent, FromIntRejectsOutOfRange) {
  EXPECT_EQ(Percent::FromInt(-1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Percent::FromInt(101).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Percent, ClampedSaturates) {
  EXPECT_EQ(Percent::Clamped(-5).value(), 0);
  EXPECT_EQ(Percent::Clamped(42).value(), 42);
  EXPECT_EQ(Percent::Clamped(500).value(), 100);
  EXPECT_LT(Percent::Clamped(10), Percent::Clamped(11));
}

}  // namespace
}  // namespace makegood::policy
