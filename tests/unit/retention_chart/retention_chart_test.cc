// The retention chart's SVG: well-formed, bars and whiskers where the
// figures put them, text escaped, the same bytes for the same response.
#include "services/retention_chart/retention_chart.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "makegood/v1/insights_service.pb.h"
#include "tests/unit/retention_chart/retention_samples.h"
#include "tests/unit/retention_chart/svg_reader.h"

namespace makegood::retention_chart {
namespace {

namespace v1 = ::makegood::v1;
using ::makegood::retention_chart::testing::AddCohort;
using ::makegood::retention_chart::testing::kHalfInterval;
using ::makegood::retention_chart::testing::ReadSvg;
using ::makegood::retention_chart::testing::SvgDocument;
using ::makegood::retention_chart::testing::SvgElement;
using ::makegood::retention_chart::testing::Window;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Coordinates are written with two decimals.
constexpr double kPixel = 0.01;

std::string Render(const v1::GetRetentionStatsResponse& response,
                   int window_days = 30) {
  ChartOptions options;
  options.window_days = window_days;
  absl::StatusOr<std::string> svg = RenderRetentionChart(response, options);
  EXPECT_TRUE(svg.ok()) << svg.status();
  return svg.ok() ? *svg : "";
}

SvgDocument Read(const std::string& svg) {
  absl::StatusOr<SvgDocument> doc = ReadSvg(svg);
  EXPECT_TRUE(doc.ok()) << doc.status() << "\n" << svg;
  return doc.ok() ? *doc : SvgDocument();
}

// REFUND and DENY, each for control and candidate; 30-day rates 0.2 (DENY,
// control) and 0.6 (REFUND, control).
v1::GetRetentionStatsResponse TwoOutcomesTwoArms() {
  v1::GetRetentionStatsResponse r;
  AddCohort(r, {"DENY", "exp1:control"},
            {Window(7, 150, 15), Window(30, 100, 20)});
  AddCohort(r, {"DENY", "exp1:candidate"},
            {Window(7, 150, 30), Window(30, 100, 30)});
  AddCohort(r, {"REFUND", "exp1:control"},
            {Window(7, 700, 280), Window(30, 500, 300)});
  AddCohort(r, {"REFUND", "exp1:candidate"},
            {Window(7, 700, 350), Window(30, 600, 420)});
  return r;
}

std::vector<std::string> Texts(const SvgDocument& doc, absl::string_view cls) {
  std::vector<std::string> texts;
  for (const SvgElement* e : doc.Find("text", cls)) texts.push_back(e->text);
  return texts;
}

TEST(RetentionChart, IsOneSelfContainedSvgElement) {
  const std::string svg = Render(TwoOutcomesTwoArms());
  EXPECT_THAT(svg, StartsWith("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                              "<svg xmlns=\"http://www.w3.org/2000/svg\" "
                              "version=\"1.1\""));
  const SvgDocument doc = Read(svg);
  ASSERT_FALSE(doc.elements.empty());
  EXPECT_EQ(doc.elements[0].name, "svg");
  EXPECT_EQ(std::count_if(doc.elements.begin(), doc.elements.end(),
                          [](const SvgElement& e) { return e.name == "svg"; }),
            1);
  for (const char* outside : {"<script", "<style", "href", "url(", "@import",
                              "<image", "<foreignObject"}) {
    EXPECT_THAT(svg, Not(HasSubstr(outside)));
  }
}

TEST(RetentionChart, BarLengthIsProportionalToTheRate) {
  const SvgDocument doc = Read(Render(TwoOutcomesTwoArms()));
  const std::vector<const SvgElement*> bars = doc.Find("rect", "bar");
  ASSERT_EQ(bars.size(), 4u);
  // Groups in response order, bars by series (control first here).
  const SvgElement& deny_control = *bars[0];
  const SvgElement& refund_control = *bars[2];
  EXPECT_NEAR(refund_control.Number("width") / deny_control.Number("width"),
              3.0, 1e-3);
  EXPECT_EQ(deny_control.Number("x"), refund_control.Number("x"));
  EXPECT_EQ(deny_control.Number("height"), refund_control.Number("height"));
  EXPECT_GT(deny_control.Number("height"), 0);
}

TEST(RetentionChart, AxisRunsFromZeroToHundredPercentOnTheBarScale) {
  const SvgDocument doc = Read(Render(TwoOutcomesTwoArms()));
  const SvgElement& bar = *doc.Find("rect", "bar")[0];  // 20 %.
  const double zero = bar.Number("x");
  const double full = bar.Number("width") / 0.2;
  const std::vector<const SvgElement*> ticks = doc.Find("text", "tick");
  ASSERT_EQ(ticks.size(), 11u);
  EXPECT_EQ(ticks.front()->text, "0 %");
  EXPECT_NEAR(ticks.front()->Number("x"), zero, kPixel);
  EXPECT_EQ(ticks.back()->text, "100 %");
  EXPECT_NEAR(ticks.back()->Number("x"), zero + full, 2 * kPixel);
  EXPECT_EQ(doc.Find("line", "grid").size(), 10u);
}

TEST(RetentionChart, WhiskersAndCapsSitAtTheIntervalEnds) {
  const v1::GetRetentionStatsResponse r = TwoOutcomesTwoArms();
  const SvgDocument doc = Read(Render(r));
  const std::vector<const SvgElement*> bars = doc.Find("rect", "bar");
  const std::vector<const SvgElement*> whiskers = doc.Find("line", "whisker");
  const std::vector<const SvgElement*> caps = doc.Find("line", "cap");
  ASSERT_EQ(whiskers.size(), 4u);
  ASSERT_EQ(caps.size(), 8u);
  const double zero = bars[0]->Number("x");
  const double full = bars[0]->Number("width") / 0.2;
  const double rates[] = {0.2, 0.3, 0.6, 0.7};  // Drawing order.
  for (size_t i = 0; i < 4; ++i) {
    const double low = zero + (rates[i] - kHalfInterval) * full;
    const double high = zero + (rates[i] + kHalfInterval) * full;
    EXPECT_NEAR(whiskers[i]->Number("x1"), low, 2 * kPixel) << i;
    EXPECT_NEAR(whiskers[i]->Number("x2"), high, 2 * kPixel) << i;
    EXPECT_NEAR(caps[2 * i]->Number("x1"), low, 2 * kPixel) << i;
    EXPECT_NEAR(caps[2 * i + 1]->Number("x1"), high, 2 * kPixel) << i;
    // On the bar's middle.
    EXPECT_NEAR(whiskers[i]->Number("y1"),
                bars[i]->Number("y") + bars[i]->Number("height") / 2, kPixel);
  }
}

TEST(RetentionChart, PrintsTheRateAndCohortSizeBesideEachBar) {
  const SvgDocument doc = Read(Render(TwoOutcomesTwoArms()));
  const std::vector<const SvgElement*> values = doc.Find("text", "value");
  const std::vector<const SvgElement*> whiskers = doc.Find("line", "whisker");
  ASSERT_EQ(values.size(), 4u);
  EXPECT_EQ(values[0]->text, "20.0 %n = 100");
  EXPECT_EQ(values[3]->text, "70.0 %n = 600");
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_GT(values[i]->Number("x"), whiskers[i]->Number("x2")) << i;
  }
}

TEST(RetentionChart, SeriesKeepTheirColourAcrossGroupsAndInTheLegend) {
  const SvgDocument doc = Read(Render(TwoOutcomesTwoArms()));
  const std::vector<const SvgElement*> bars = doc.Find("rect", "bar");
  const std::string control = bars[0]->Attribute("fill");
  const std::string candidate = bars[1]->Attribute("fill");
  EXPECT_NE(control, candidate);
  EXPECT_EQ(bars[2]->Attribute("fill"), control);
  EXPECT_EQ(bars[3]->Attribute("fill"), candidate);
  const std::vector<const SvgElement*> swatches = doc.Find("rect", "swatch");
  ASSERT_EQ(swatches.size(), 2u);
  EXPECT_EQ(swatches[0]->Attribute("fill"), control);
  EXPECT_EQ(swatches[1]->Attribute("fill"), candidate);
  EXPECT_THAT(Texts(doc, "legend"),
              ElementsAre("exp1:control", "exp1:candidate"));
  EXPECT_THAT(Texts(doc, "group-label"), ElementsAre("DENY", "REFUND"));
}

TEST(RetentionChart, BarsDoNotOverlapAndFitTheCanvas) {
  const SvgDocument doc = Read(Render(TwoOutcomesTwoArms()));
  const double width = doc.elements[0].Number("width");
  const double height = doc.elements[0].Number("height");
  double bottom = 0;
  for (const SvgElement* bar : doc.Find("rect", "bar")) {
    EXPECT_GE(bar->Number("y"), bottom);
    bottom = bar->Number("y") + bar->Number("height");
    EXPECT_LE(bar->Number("x") + bar->Number("width"), width);
  }
  for (const SvgElement& e : doc.elements) {
    if (e.name == "text") {
      EXPECT_LT(e.Number("y"), height) << e.text;
    }
  }
}

TEST(RetentionChart, TitleAndSubtitleSayTheWindowAndTheTroubles) {
  const SvgDocument doc = Read(Render(TwoOutcomesTwoArms()));
  EXPECT_THAT(Texts(doc, "title"),
              ElementsAre("Reorder rate within 30 days of a trouble, by "
                          "outcome and arm"));
  EXPECT_THAT(Texts(doc, "subtitle"),
              ElementsAre("1,300 troubles whose 30-day window has closed, in "
                          "4 cohorts"));
  const SvgDocument week = Read(Render(TwoOutcomesTwoArms(), 7));
  EXPECT_THAT(Texts(week, "subtitle"),
              ElementsAre("1,700 troubles whose 7-day window has closed, in 4 "
                          "cohorts"));
  EXPECT_NEAR(week.Find("rect", "bar")[0]->Number("width") * 2,
              doc.Find("rect", "bar")[0]->Number("width"),  // 10 % vs 20 %.
              2 * kPixel);
}

TEST(RetentionChart, EscapesTextFromTheData) {
  v1::GetRetentionStatsResponse r;
  AddCohort(r, {"A&B <x>", "\"q\" 'a'"}, {Window(30, 10, 5)});
  const std::string svg = Render(r);
  EXPECT_THAT(svg, Not(HasSubstr("A&B")));
  EXPECT_THAT(svg, Not(HasSubstr("<x>")));
  EXPECT_THAT(svg, HasSubstr("A&amp;B &lt;x&gt;"));
  EXPECT_THAT(svg, HasSubstr("&quot;q&quot; &apos;a&apos;"));
  const SvgDocument doc = Read(svg);
  EXPECT_THAT(Texts(doc, "group-label"), ElementsAre("A&B <x>"));
  EXPECT_THAT(Texts(doc, "legend"), ElementsAre("\"q\" 'a'"));
  EXPECT_EQ(doc.Find("rect", "bar").size(), 1u);
}

TEST(RetentionChart, LeavesOutCohortsWithoutAClosedWindowAndSaysSo) {
  v1::GetRetentionStatsResponse r = TwoOutcomesTwoArms();
  AddCohort(r, {"COUPON", "exp1:control"},
            {Window(7, 40, 10), Window(30, 0, 0)});
  AddCohort(r, {"COUPON", "exp1:candidate"}, {Window(7, 40, 10)});
  const SvgDocument doc = Read(Render(r));
  EXPECT_EQ(doc.Find("rect", "bar").size(), 4u);
  EXPECT_THAT(Texts(doc, "group-label"), ElementsAre("DENY", "REFUND"));
  EXPECT_THAT(Texts(doc, "caption"),
              ::testing::Contains(
                  "Not drawn: 2 cohorts with no closed 30-day window yet."));
  // In the 7-day chart both COUPON cohorts are there.
  EXPECT_EQ(Read(Render(r, 7)).Find("rect", "bar").size(), 6u);
}

TEST(RetentionChart, OneLabelDrawsOneColourAndNoLegend) {
  v1::GetRetentionStatsResponse r;
  AddCohort(r, {"REFUND"}, {Window(30, 100, 60)});
  AddCohort(r, {"DENY"}, {Window(30, 100, 20)});
  AddCohort(r, {"COUPON"}, {Window(30, 100, 40)});
  const SvgDocument doc = Read(Render(r));
  const std::vector<const SvgElement*> bars = doc.Find("rect", "bar");
  ASSERT_EQ(bars.size(), 3u);
  EXPECT_EQ(bars[0]->Attribute("fill"), bars[1]->Attribute("fill"));
  EXPECT_EQ(bars[0]->Attribute("fill"), bars[2]->Attribute("fill"));
  EXPECT_TRUE(doc.Find("rect", "swatch").empty());
  EXPECT_TRUE(doc.Find("text", "legend-heading").empty());
}

TEST(RetentionChart, WithoutBarsSaysThereIsNoData) {
  const SvgDocument doc = Read(Render(v1::GetRetentionStatsResponse()));
  EXPECT_TRUE(doc.Find("rect", "bar").empty());
  EXPECT_THAT(Texts(doc, "no-data"),
              ElementsAre("No cohort has a trouble whose 30-day window has "
                          "closed."));
}

TEST(RetentionChart, SameResponseSameBytes) {
  const v1::GetRetentionStatsResponse r = TwoOutcomesTwoArms();
  v1::GetRetentionStatsResponse copy;
  ASSERT_TRUE(copy.ParseFromString(r.SerializeAsString()));
  const std::string first = Render(r);
  EXPECT_EQ(Render(r), first);
  EXPECT_EQ(Render(copy), first);
  EXPECT_NE(Render(r, 7), first);
}

TEST(RetentionChart, UsesTheGivenTitleAndNote) {
  ChartOptions options;
  options.title = "Retention <Q3>";
  options.note = "only currency = EUR";
  absl::StatusOr<std::string> svg =
      RenderRetentionChart(TwoOutcomesTwoArms(), options);
  ASSERT_TRUE(svg.ok()) << svg.status();
  const SvgDocument doc = Read(*svg);
  EXPECT_THAT(Texts(doc, "title"), ElementsAre("Retention <Q3>"));
  EXPECT_THAT(Texts(doc, "note"), ElementsAre("only currency = EUR"));
}

TEST(RetentionChart, RefusesAWindowOtherThan7_30Or90Days) {
  ChartOptions options;
  options.window_days = 14;
  EXPECT_EQ(RenderRetentionChart(TwoOutcomesTwoArms(), options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace makegood::retention_chart
