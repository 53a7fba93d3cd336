// A GetRetentionStatsResponse -> the groups and bars the chart draws, and the
// responses it refuses.
#include "services/retention_chart/chart_data.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "makegood/v1/insights_service.pb.h"
#include "tests/unit/retention_chart/retention_samples.h"

namespace makegood::retention_chart {
namespace {

namespace v1 = ::makegood::v1;
using ::makegood::retention_chart::testing::AddCohort;
using ::makegood::retention_chart::testing::Window;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(CollectChartData, GroupsByTheFirstLabelAndSplitsByTheSecond) {
  v1::GetRetentionStatsResponse r;
  AddCohort(r, {"DENY", "exp1:candidate"}, {Window(30, 100, 40)});
  AddCohort(r, {"DENY", "exp1:control"}, {Window(30, 200, 60)});
  AddCohort(r, {"REFUND", "exp1:control"}, {Window(30, 300, 210)});
  absl::StatusOr<ChartData> data = CollectChartData(r, 30);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->group_dimension, "outcome");
  EXPECT_EQ(data->series_dimension, "arm");
  EXPECT_THAT(data->series, ElementsAre("exp1:candidate", "exp1:control"));
  ASSERT_EQ(data->groups.size(), 2u);
  EXPECT_EQ(data->groups[0].label, "DENY");
  ASSERT_EQ(data->groups[0].bars.size(), 2u);
  EXPECT_EQ(data->groups[0].bars[1].series, "exp1:control");
  EXPECT_DOUBLE_EQ(data->groups[0].bars[1].rate, 0.3);
  EXPECT_EQ(data->groups[0].bars[1].troubles, 200);
  // REFUND's only bar keeps control's colour.
  ASSERT_EQ(data->groups[1].bars.size(), 1u);
  EXPECT_EQ(data->groups[1].bars[0].series_index, 1);
  EXPECT_EQ(data->troubles, 600);
  EXPECT_EQ(data->left_out, 0);
}

TEST(CollectChartData, BarsOfAGroupFollowTheSeriesOrder) {
  v1::GetRetentionStatsResponse r;
  AddCohort(r, {"COUPON", "a"}, {Window(30, 10, 5)});
  AddCohort(r, {"DENY", "b"}, {Window(30, 10, 5)});
  AddCohort(r, {"DENY", "a"}, {Window(30, 10, 5)});
  absl::StatusOr<ChartData> data = CollectChartData(r, 30);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->groups[1].bars.size(), 2u);
  EXPECT_EQ(data->groups[1].bars[0].series, "a");
  EXPECT_EQ(data->groups[1].bars[1].series, "b");
}

TEST(CollectChartData, TakesTheChosenWindow) {
  v1::GetRetentionStatsResponse r;
  AddCohort(r, {"REFUND"},
            {Window(7, 400, 100), Window(30, 300, 150), Window(90, 100, 80)});
  for (const auto& [days, rate] :
       {std::pair{7, 0.25}, std::pair{30, 0.5}, std::pair{90, 0.8}}) {
    absl::StatusOr<ChartData> data = CollectChartData(r, days);
    ASSERT_TRUE(data.ok()) << data.status();
    EXPECT_DOUBLE_EQ(data->groups[0].bars[0].rate, rate) << days;
  }
}

TEST(CollectChartData, LeavesOutCohortsWithoutAClosedWindow) {
  v1::GetRetentionStatsResponse r;
  AddCohort(r, {"REFUND", "a"}, {Window(7, 10, 5), Window(30, 10, 5)});
  AddCohort(r, {"REFUND", "b"}, {Window(7, 10, 5), Window(30, 0, 0)});
  AddCohort(r, {"DENY", "b"}, {Window(7, 10, 5)});
  absl::StatusOr<ChartData> data = CollectChartData(r, 30);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->left_out, 2);
  ASSERT_EQ(data->groups.size(), 1u);
  EXPECT_EQ(data->groups[0].bars.size(), 1u);
  EXPECT_THAT(data->series, ElementsAre("a"));
  EXPECT_EQ(data->troubles, 10);
}

TEST(CollectChartData, OneLabelMakesOneSeriesAndNoLabelOneGroup) {
  v1::GetRetentionStatsResponse one;
  AddCohort(one, {"REFUND"}, {Window(30, 10, 5)});
  AddCohort(one, {"DENY"}, {Window(30, 10, 5)});
  absl::StatusOr<ChartData> data = CollectChartData(one, 30);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->series_dimension, "");
  EXPECT_THAT(data->series, ElementsAre(""));
  EXPECT_EQ(data->groups.size(), 2u);

  v1::GetRetentionStatsResponse none;
  AddCohort(none, {}, {Window(30, 10, 5)});
  data = CollectChartData(none, 30);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->groups.size(), 1u);
  EXPECT_EQ(data->groups[0].label, "all troubles");
}

TEST(CollectChartData, RefusesAWindowOtherThan7_30Or90Days) {
  absl::StatusOr<ChartData> data =
      CollectChartData(v1::GetRetentionStatsResponse(), 14);
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(data.status().message(), HasSubstr("got 14"));
}

TEST(CollectChartData, RefusesImpossibleFiguresNamingTheField) {
  const auto problem = [](v1::RetentionWindow w) {
    v1::GetRetentionStatsResponse r;
    AddCohort(r, {"REFUND"}, {Window(30, 10, 5)});
    AddCohort(r, {"DENY"}, {Window(7, 10, 5), w});
    absl::StatusOr<ChartData> data = CollectChartData(r, 30);
    EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(data.status().message());
  };
  v1::RetentionWindow w = Window(30, 10, 5);
  w.set_reordered(11);
  EXPECT_THAT(problem(w), HasSubstr("cohorts[1].windows[1].reordered"));
  w = Window(30, 10, 5);
  w.set_reorder_rate_high(1.5);
  EXPECT_THAT(problem(w),
              HasSubstr("cohorts[1].windows[1].reorder_rate_high: 1.5"));
  w = Window(30, 10, 5);
  w.set_reorder_rate_low(0.6);
  EXPECT_THAT(problem(w), HasSubstr("does not hold the reorder rate"));
  w = Window(30, -1, 0);
  EXPECT_THAT(problem(w), HasSubstr("must not be negative"));
}

TEST(CollectChartData, RefusesCohortsLabelledDifferently) {
  v1::GetRetentionStatsResponse r;
  AddCohort(r, {"REFUND", "a"}, {Window(30, 10, 5)});
  AddCohort(r, {"REFUND"}, {Window(30, 10, 5)});
  EXPECT_THAT(CollectChartData(r, 30).status().message(),
              HasSubstr("cohorts[1].labels: outcome where cohorts[0] has "
                        "outcome, arm"));
  r.mutable_cohorts()->RemoveLast();
  AddCohort(r, {"REFUND", "a"}, {Window(30, 20, 5)});
  EXPECT_THAT(CollectChartData(r, 30).status().message(),
              HasSubstr("cohorts[1].labels: the same as cohorts[0]'s"));
}

TEST(DimensionWords, NamesDimensionsInWords) {
  EXPECT_EQ(DimensionWords(v1::RETENTION_DIMENSION_TIME_TO_SUCCEEDED),
            "time to succeeded");
  EXPECT_EQ(DimensionWords(static_cast<v1::RetentionDimension>(42)),
            "dimension 42");
}

}  // namespace
}  // namespace makegood::retention_chart
