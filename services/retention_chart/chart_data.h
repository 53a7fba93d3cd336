// File: services/retention_chart/chart_data.h
//
// What the retention chart draws, taken from a GetRetentionStatsResponse and
// checked: one group per value of the cohorts' first label (e.g. the
// outcome), in it one bar per cohort (e.g. one per experiment arm), each the
// reorder rate of one window with its 95 % interval. The drawing is in
// retention_chart.h.
//
// Example:
//   absl::StatusOr<ChartData> data = CollectChartData(response, 30);
//   data->groups[0].label;            // "REFUND"
//   data->groups[0].bars[0].series;   // "exp1:control"
//   data->groups[0].bars[0].rate;     // 0.62
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "makegood/v1/insights_service.pb.h"

namespace makegood::retention_chart {

// One cohort's reorder rate in the chosen window.
struct ChartBar {
  // The cohort's labels after the first, joined with " / " (e.g.
  // "exp1:control"); empty when cohorts have one label or none.
  std::string series;
  // Position of `series` in ChartData::series (it picks the colour).
  int series_index = 0;
  // Troubles whose window closed (> 0), and of those the reordered ones.
  int64_t troubles = 0;
  int64_t reordered = 0;
  // The reorder rate and its 95 % Wilson interval, 0 <= low <= rate <=
  // high <= 1.
  double rate = 0;
  double low = 0;
  double high = 0;
};

struct ChartGroup {
  // The cohorts' first label (e.g. "REFUND"); "all troubles" when cohorts
  // have no labels.
  std::string label;
  // In the order of ChartData::series; never empty.
  std::vector<ChartBar> bars;
};

struct ChartData {
  // 7, 30 or 90.
  int window_days = 0;
  // What the groups and the series are, in words ("outcome", "arm",
  // "time to succeeded"); empty when there is no such label. Series labels
  // after the second are named together: "arm / tier".
  std::string group_dimension;
  std::string series_dimension;
  // Every series with a bar, in order of first appearance in the response.
  std::vector<std::string> series;
  // Groups with at least one bar, in order of first appearance.
  std::vector<ChartGroup> groups;
  // Troubles over all bars.
  int64_t troubles = 0;
  // Cohorts without a closed window of window_days (no bar drawn).
  int left_out = 0;
};

// The bars of `response` for the window of `window_days` days. Order
// follows the response (the server sorts cohorts by their labels), so the
// same response gives the same data.
//
// INVALID_ARGUMENT, naming the field (e.g.
// "cohorts[3].windows[1].reorder_rate_high"), when window_days is not 7, 30
// or 90, when cohorts are labelled by different dimensions, when two
// cohorts have the same labels, or when a window's figures are impossible
// (negative counts, more reordered than troubles, rates outside [0, 1] or
// an interval that does not hold its rate).
[[nodiscard]] absl::StatusOr<ChartData> CollectChartData(
    const makegood::v1::GetRetentionStatsResponse& response, int window_days);

// A dimension in words: RETENTION_DIMENSION_TIME_TO_SUCCEEDED -> "time to
// succeeded"; an unknown value -> "dimension 42".
std::string DimensionWords(makegood::v1::RetentionDimension dimension);

}  // namespace makegood::retention_chart
