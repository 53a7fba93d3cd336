// File: services/retention_chart/retention_chart.h
//
// The retention headline chart: for risk leads, a picture of how often
// members ordered again after a trouble, by how the trouble was handled.
// From a makegood.v1.GetRetentionStatsResponse it draws a self-contained SVG
// 1.1 document (no scripts, no external fonts or style sheets): one group of
// horizontal bars per value of the cohorts' first label (e.g. the outcome),
// one coloured bar per value of the second (e.g. the experiment arm), each
// the reorder rate of one window on a 0-100 % axis with its 95 % Wilson
// interval as a whisker, the rate and the cohort size n beside it. Cohorts
// without a closed window of that length are left out (a footnote counts
// them). Colours are the Okabe-Ito palette, safe for colour-blind readers.
//
// Example:
//   ChartOptions options;
//   options.window_days = 90;
//   absl::StatusOr<std::string> svg = RenderRetentionChart(response, options);
//   if (!svg.ok()) return svg.status();   // INVALID_ARGUMENT naming the field
//   out << *svg;
//
// Pure function of its arguments, byte for byte; thread-safe.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "makegood/v1/insights_service.pb.h"

namespace makegood::retention_chart {

struct ChartOptions {
  // Which of each cohort's windows to draw: 7, 30 or 90 (days).
  int window_days = 30;
  // The heading; empty: one made of the window and the dimensions, e.g.
  // "Reorder rate within 30 days of a trouble, by outcome and arm".
  std::string title;
  // A line under the subtitle, e.g. which troubles the request kept
  // ("only currency = EUR"); empty: none.
  std::string note;
};

// The SVG document (UTF-8, starting with the XML declaration) for
// `response`. Every text taken from the response is XML-escaped.
// INVALID_ARGUMENT when options.window_days is not 7, 30 or 90 or the
// response's figures are impossible (see CollectChartData in chart_data.h).
// A response without a bar to draw still gives a chart, that says so.
[[nodiscard]] absl::StatusOr<std::string> RenderRetentionChart(
    const makegood::v1::GetRetentionStatsResponse& response,
    const ChartOptions& options);

}  // namespace makegood::retention_chart
