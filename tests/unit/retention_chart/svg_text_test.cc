// The text pieces of the chart: escaping, numbers, widths, wrapping.
#include "services/retention_chart/svg_text.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace makegood::retention_chart {
namespace {

using ::testing::ElementsAre;

TEST(EscapeXml, EscapesMarkupAndQuotes) {
  EXPECT_EQ(EscapeXml("A&B <x> \"q\" 'a'"),
            "A&amp;B &lt;x&gt; &quot;q&quot; &apos;a&apos;");
}

TEST(EscapeXml, ReplacesControlCharactersXmlForbids) {
  EXPECT_EQ(EscapeXml(std::string("a\x01"
                                  "b\tc\n",
                                  6)),
            "a?b\tc\n");
  EXPECT_EQ(EscapeXml("caf\xC3\xA9"), "caf\xC3\xA9");  // UTF-8 kept.
}

TEST(Number, WritesAtMostTwoDecimalsWithoutTrailingZeros) {
  EXPECT_EQ(Number(12), "12");
  EXPECT_EQ(Number(12.5), "12.5");
  EXPECT_EQ(Number(12.254), "12.25");
  EXPECT_EQ(Number(-0.001), "0");
}

TEST(Percent, WritesOneDecimal) {
  EXPECT_EQ(Percent(0.625), "62.5 %");
  EXPECT_EQ(Percent(1), "100.0 %");
  EXPECT_EQ(Percent(0), "0.0 %");
}

TEST(Count, GroupsThousands) {
  EXPECT_EQ(Count(0), "0");
  EXPECT_EQ(Count(999), "999");
  EXPECT_EQ(Count(1204), "1,204");
  EXPECT_EQ(Count(1234567), "1,234,567");
}

TEST(TextWidth, GrowsWithTheTextAndTheFont) {
  EXPECT_EQ(TextWidth("", 13), 0);
  EXPECT_GT(TextWidth("REQUEST_EVIDENCE", 13), TextWidth("DENY", 13));
  EXPECT_GT(TextWidth("DENY", 20), TextWidth("DENY", 13));
  // A two-byte character is one glyph.
  EXPECT_LT(TextWidth("\xC3\xA9", 10), TextWidth("ee", 10));
}

TEST(Ellipsize, CutsWholeCharactersAndMarksTheCut) {
  EXPECT_EQ(Ellipsize("REFUND", 6), "REFUND");
  EXPECT_EQ(Ellipsize("REFUND", 4), "REF\u2026");
  EXPECT_EQ(Ellipsize("\xC3\xA9\xC3\xA9\xC3\xA9", 2), "\xC3\xA9\u2026");
}

TEST(FitWidth, EllipsizesOnlyWhatDoesNotFit) {
  EXPECT_EQ(FitWidth("DENY", 13, 100), "DENY");
  const std::string fitted = FitWidth("an extremely long label", 13, 60);
  EXPECT_LE(TextWidth(fitted, 13), 60);
  EXPECT_THAT(fitted, ::testing::EndsWith("\u2026"));
}

TEST(WrapText, BreaksAtSpacesWithinTheWidth) {
  const std::vector<std::string> lines =
      WrapText("one two three four five", 10, TextWidth("three four", 10));
  EXPECT_THAT(lines, ElementsAre("one two", "three four", "five"));
  EXPECT_TRUE(WrapText("", 10, 100).empty());
}

}  // namespace
}  // namespace makegood::retention_chart
