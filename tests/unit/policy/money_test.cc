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

TEST(CurrencyExponent, ComesFromIcu) {
  EXPECT_EQ(CurrencyExponent("KRW"), 0);
  EXPECT_EQ(CurrencyExponent("JPY"), 0);
  EXPECT_EQ(CurrencyExponent("CNY"), 2);
  EXPECT_EQ(CurrencyExponent("EUR"), 2);
  EXPECT_EQ(CurrencyExponent("USD"), 2);
  EXPECT_EQ(CurrencyExponent("KWD"), 3);
  EXPECT_EQ(CurrencyExponent("BHD"), 3);
}

TEST(IsIsoCurrency, KnowsRealCodesOnly) {
  for (const char* code : {"KRW", "CNY", "USD", "EUR", "KWD", "GBP", "JPY"}) {
    EXPECT_TRUE(IsIsoCurrency(code)) << code;
  }
  for (const char* code : {"", "EU", "eur", "EURO", "XYZ", "AAA", "E1R"}) {
    EXPECT_FALSE(IsIsoCurrency(code)) << code;
  }
}

TEST(IsLocaleTag, AcceptsBcp47Tags) {
  for (const char* tag : {"", "en", "ko-KR", "zh-CN", "en-150", "en-IE"}) {
    EXPECT_TRUE(IsLocaleTag(tag)) << tag;
  }
  for (const char* tag : {"-", "ko_KR!", "12"}) {
    EXPECT_FALSE(IsLocaleTag(tag)) << tag;
  }
}

// The five examples, exactly (ICU's no-break spaces become plain
// spaces).
TEST(FormatMoney, FormatsForTheMarketsLocale) {
  EXPECT_EQ(FormatMoney(8000, "KRW", "ko-KR"), "\u20A98,000");  // ₩8,000
  EXPECT_EQ(FormatMoney(4500, "CNY", "zh-CN"), "\u00A545.00");  // ¥45.00
  EXPECT_EQ(FormatMoney(1200, "USD", "en-US"), "$12.00");
  EXPECT_EQ(FormatMoney(1200, "EUR", "en-IE"), "\u20AC12.00");  // €12.00
  EXPECT_EQ(FormatMoney(1250, "KWD", "en"), "KWD 1.250");
}

TEST(FormatMoney, UsesTheCurrencysDecimals) {
  EXPECT_EQ(FormatMoney(450, "EUR"), "\u20AC4.50");
  EXPECT_EQ(FormatMoney(5, "EUR"), "\u20AC0.05");
  EXPECT_EQ(FormatMoney(0, "EUR"), "\u20AC0.00");
  EXPECT_EQ(FormatMoney(-450, "EUR"), "-\u20AC4.50");
  EXPECT_EQ(FormatMoney(1234, "KWD"), "KWD 1.234");
  EXPECT_EQ(FormatMoney(1'234'567, "KRW", "ko-KR"), "\u20A91,234,567");
  EXPECT_EQ(FormatMoney(std::numeric_limits<int64_t>::min(), "EUR"),
            "-\u20AC92,233,720,368,547,758.08");
}

TEST(FormatMoney, FallsBackForAnUnknownCodeOrLocale) {
  EXPECT_EQ(FormatMoney(450, "eur"), "4.50 eur");
  // An unparsable locale formats as English.
  EXPECT_EQ(FormatMoney(1200, "USD", "!!"), "$12.00");
}

}  // namespace
}  // namespace makegood::policy
