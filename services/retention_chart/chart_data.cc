#include "services/retention_chart/chart_data.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "services/core/status_macros.h"

namespace makegood::retention_chart {
namespace {

namespace v1 = ::makegood::v1;

constexpr absl::string_view kDimensionPrefix = "RETENTION_DIMENSION_";
constexpr char kSeriesSeparator[] = " / ";
constexpr char kAllTroubles[] = "all troubles";
constexpr char kEmptyLabel[] = "(empty)";
// Rates come as doubles from the server; an interval may touch its rate.
constexpr double kRateTolerance = 1e-9;

absl::Status CheckWindowDays(int days) {
  if (days == 7 || days == 30 || days == 90) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("window: want 7, 30 or 90 days, got ", days));
}

// "cohorts[2].labels: OUTCOME, TIER where cohorts[0] has OUTCOME, ARM".
absl::Status CheckSameDimensions(const v1::GetRetentionStatsResponse& r) {
  const auto dimensions = [](const v1::RetentionCohort& c) {
    std::vector<std::string> names;
    for (const v1::RetentionLabel& l : c.labels()) {
      names.push_back(DimensionWords(l.dimension()));
    }
    return names;
  };
  for (int i = 1; i < r.cohorts_size(); ++i) {
    if (dimensions(r.cohorts(i)) == dimensions(r.cohorts(0))) continue;
    return absl::InvalidArgumentError(absl::StrCat(
        "cohorts[", i, "].labels: ",
        absl::StrJoin(dimensions(r.cohorts(i)), ", "), " where cohorts[0] has ",
        absl::StrJoin(dimensions(r.cohorts(0)), ", ")));
  }
  return absl::OkStatus();
}

absl::Status CheckCounts(const v1::RetentionWindow& w,
                         const std::string& path) {
  if (w.troubles() < 0 || w.reordered() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": troubles and reordered must not be negative"));
  }
  if (w.reordered() > w.troubles()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ".reordered: ", w.reordered(), " of ", w.troubles(),
                     " troubles"));
  }
  return absl::OkStatus();
}

absl::Status CheckRates(const v1::RetentionWindow& w, const std::string& path) {
  const double low = w.reorder_rate_low(), rate = w.reorder_rate(),
               high = w.reorder_rate_high();
  for (const auto& [name, value] :
       {std::pair{"reorder_rate_low", low}, std::pair{"reorder_rate", rate},
        std::pair{"reorder_rate_high", high}}) {
    if (!std::isfinite(value) || value < 0 || value > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ".", name, ": ", value, " is not in [0, 1]"));
    }
  }
  if (low > rate + kRateTolerance || rate > high + kRateTolerance) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": the interval [", low, ", ", high,
                     "] does not hold the reorder rate ", rate));
  }
  return absl::OkStatus();
}

std::string LabelText(const v1::RetentionLabel& label) {
  return label.value().empty() ? kEmptyLabel : label.value();
}

std::string GroupLabel(const v1::RetentionCohort& cohort) {
  return cohort.labels().empty() ? kAllTroubles : LabelText(cohort.labels(0));
}

std::string SeriesLabel(const v1::RetentionCohort& cohort) {
  std::vector<std::string> rest;
  for (int i = 1; i < cohort.labels_size(); ++i) {
    rest.push_back(LabelText(cohort.labels(i)));
  }
  return absl::StrJoin(rest, kSeriesSeparator);
}

// "arm", "arm / tier"; empty for fewer than two labels.
std::string SeriesDimension(const v1::RetentionCohort& cohort) {
  std::vector<std::string> rest;
  for (int i = 1; i < cohort.labels_size(); ++i) {
    rest.push_back(DimensionWords(cohort.labels(i).dimension()));
  }
  return absl::StrJoin(rest, kSeriesSeparator);
}

// The index in cohort.windows() of the `days`-day window, or -1.
int FindWindow(const v1::RetentionCohort& cohort, int days) {
  for (int i = 0; i < cohort.windows_size(); ++i) {
    if (cohort.windows(i).days() == days) return i;
  }
  return -1;
}

// Index of `key` in `keys`, appended when new.
int IndexOf(std::vector<std::string>& keys, const std::string& key) {
  auto it = std::find(keys.begin(), keys.end(), key);
  if (it != keys.end()) return static_cast<int>(it - keys.begin());
  keys.push_back(key);
  return static_cast<int>(keys.size()) - 1;
}

// Adds cohort `index`'s bar to `data`, or counts it as left out.
absl::Status AddCohort(const v1::RetentionCohort& cohort, int index,
                       ChartData& data) {
  const int w = FindWindow(cohort, data.window_days);
  if (w < 0 || cohort.windows(w).troubles() == 0) {
    ++data.left_out;
    return absl::OkStatus();
  }
  const v1::RetentionWindow& window = cohort.windows(w);
  const std::string path =
      absl::StrCat("cohorts[", index, "].windows[", w, "]");
  MAKEGOOD_RETURN_IF_ERROR(CheckCounts(window, path));
  MAKEGOOD_RETURN_IF_ERROR(CheckRates(window, path));

  ChartBar bar;
  bar.series = SeriesLabel(cohort);
  bar.series_index = IndexOf(data.series, bar.series);
  bar.troubles = window.troubles();
  bar.reordered = window.reordered();
  bar.rate = window.reorder_rate();
  bar.low = window.reorder_rate_low();
  bar.high = window.reorder_rate_high();
  data.troubles += bar.troubles;

  const std::string group = GroupLabel(cohort);
  auto it = std::find_if(data.groups.begin(), data.groups.end(),
                         [&](const ChartGroup& g) { return g.label == group; });
  if (it == data.groups.end()) {
    it = data.groups.insert(data.groups.end(), ChartGroup{group, {}});
  }
  it->bars.push_back(std::move(bar));
  return absl::OkStatus();
}

absl::Status CheckDistinctLabels(const v1::GetRetentionStatsResponse& r) {
  absl::flat_hash_map<std::vector<std::string>, int> first;
  for (int i = 0; i < r.cohorts_size(); ++i) {
    std::vector<std::string> values;
    for (const v1::RetentionLabel& l : r.cohorts(i).labels()) {
      values.push_back(l.value());
    }
    const auto [it, inserted] = first.emplace(std::move(values), i);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cohorts[", i, "].labels: the same as cohorts[", it->second, "]'s"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string DimensionWords(v1::RetentionDimension dimension) {
  const std::string& name = v1::RetentionDimension_Name(dimension);
  if (!absl::StartsWith(name, kDimensionPrefix)) {
    return absl::StrCat("dimension ", static_cast<int>(dimension));
  }
  return absl::StrReplaceAll(
      absl::AsciiStrToLower(name.substr(kDimensionPrefix.size())),
      {{"_", " "}});
}

absl::StatusOr<ChartData> CollectChartData(
    const v1::GetRetentionStatsResponse& response, int window_days) {
  MAKEGOOD_RETURN_IF_ERROR(CheckWindowDays(window_days));
  MAKEGOOD_RETURN_IF_ERROR(CheckSameDimensions(response));
  MAKEGOOD_RETURN_IF_ERROR(CheckDistinctLabels(response));
  ChartData data;
  data.window_days = window_days;
  if (response.cohorts_size() > 0) {
    const v1::RetentionCohort& first = response.cohorts(0);
    if (first.labels_size() > 0) {
      data.group_dimension = DimensionWords(first.labels(0).dimension());
    }
    data.series_dimension = SeriesDimension(first);
  }
  for (int i = 0; i < response.cohorts_size(); ++i) {
    MAKEGOOD_RETURN_IF_ERROR(AddCohort(response.cohorts(i), i, data));
  }
  for (ChartGroup& group : data.groups) {
    std::stable_sort(group.bars.begin(), group.bars.end(),
                     [](const ChartBar& a, const ChartBar& b) {
                       return a.series_index < b.series_index;
                     });
  }
  return data;
}

}  // namespace makegood::retention_chart
