#include "services/policy/money.h"

#include <cstdint>
#include <limits>

#include "gtest/gtest.h"

namespace makegood::policy {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

TEST(ScaleMinor, RoundsDown) {
  EXPECT_EQ(ScaleMinor(100, 1, 3), 33);
  EXPECT_EQ(ScaleMinor(200, 2, 3), 133);
  EXPECT_EQ(ScaleMinor(600, 3000, 3000), 600);
}

TEST(ScaleMinor, DoesNotOverflowInTheMiddle) {
  EXPECT_EQ(ScaleMinor(kMax, 10'000, 10'000), kMax);
  EXPECT_EQ(ScaleMinor(kMax, 1, 2), kMax / 2);
}

TEST(ScaleMinor, SaturatesAtTheLargestAmount) {
  EXPECT_EQ(ScaleMinor(kMax, kMax, 1), kMax);
}

TEST(ScaleMinor, ReturnsZeroForInvalidArguments) {
  EXPECT_EQ(ScaleMinor(-1, 1, 1), 0);
  EXPECT_EQ(ScaleMinor(1, -1, 1), 0);
  EXPECT_EQ(ScaleMinor(1, 1, 0), 0);
}

TEST(FormatMoney, UsesTheCurrencysDecimals) {
  EXPECT_EQ(FormatMoney(450, "EUR"), "4.50 EUR");
  EXPECT_EQ(FormatMoney(5, "EUR"), "0.05 EUR");
  EXPECT_EQ(FormatMoney(0, "EUR"), "0.00 EUR");
  EXPECT_EQ(FormatMoney(-450, "EUR"), "-4.50 EUR");
  EXPECT_EQ(FormatMoney(450, "JPY"), "450 JPY");
  EXPECT_EQ(FormatMoney(1234, "KWD"), "1.234 KWD");
  EXPECT_EQ(FormatMoney(std::numeric_limits<int64_t>::min(), "EUR"),
            "-92233720368547758.08 EUR");
}

}  // namespace
}  // namespace makegood::policy
