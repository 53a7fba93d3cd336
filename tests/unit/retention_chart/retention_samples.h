// File: tests/unit/retention_chart/retention_samples.h
//
// GetRetentionStatsResponse builders for the retention chart's tests.
//
// Example:
//   v1::GetRetentionStatsResponse r;
//   AddCohort(r, {"REFUND", "exp1:control"}, {Window(30, 200, 120)});
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "makegood/v1/insights_service.pb.h"

namespace makegood::retention_chart::testing {

// The interval drawn around each rate: rate -/+ this, within [0, 1].
inline constexpr double kHalfInterval = 0.05;

// A window of `days` with `reordered` of `troubles`; its interval is
// rate -/+ kHalfInterval.
inline makegood::v1::RetentionWindow Window(int days, int64_t troubles,
                                            int64_t reordered) {
  makegood::v1::RetentionWindow w;
  w.set_days(days);
  w.set_troubles(troubles);
  w.set_reordered(reordered);
  const double rate =
      troubles == 0 ? 0 : static_cast<double>(reordered) / troubles;
  w.set_reorder_rate(rate);
  w.set_reorder_rate_low(troubles == 0 ? 0
                                       : std::max(0.0, rate - kHalfInterval));
  w.set_reorder_rate_high(troubles == 0 ? 0
                                        : std::min(1.0, rate + kHalfInterval));
  return w;
}

// Appends a cohort labelled OUTCOME, ARM, TIER (as many as `values`).
inline void AddCohort(
    makegood::v1::GetRetentionStatsResponse& response,
    const std::vector<std::string>& values,
    const std::vector<makegood::v1::RetentionWindow>& windows) {
  constexpr makegood::v1::RetentionDimension kDimensions[] = {
      makegood::v1::RETENTION_DIMENSION_OUTCOME,
      makegood::v1::RETENTION_DIMENSION_ARM,
      makegood::v1::RETENTION_DIMENSION_TIER};
  makegood::v1::RetentionCohort& cohort = *response.add_cohorts();
  for (size_t i = 0; i < values.size(); ++i) {
    makegood::v1::RetentionLabel& label = *cohort.add_labels();
    label.set_dimension(kDimensions[i]);
    label.set_value(values[i]);
  }
  for (const makegood::v1::RetentionWindow& w : windows) {
    *cohort.add_windows() = w;
  }
}

}  // namespace makegood::retention_chart::testing
