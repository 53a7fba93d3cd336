// File: services/population/retention_report.h
//
// Retention after trouble, simulated and served. Every trouble a simulated
// member had is kept with the labels the server gives it
// (retention::TroubleOf) and with what the member did after it: whether an
// order of theirs was delivered within 7, 30 and 90 retention days, and
// what those orders cost. They are tallied into the cohorts
// InsightsService.GetRetentionStats groups by (RetentionGrouping: per
// currency and outcome, per currency and recovery), beside the counts the
// server served. The server counts what the members did, so the two must
// be equal, cohort by cohort and window by window, in troubles, reorders
// and spend: Mismatches() lists every difference.
//
// Example:
//   RetentionReport report(absl::Milliseconds(200),
//                          DefaultRetentionGroupings());
//   report.AddTroubles(troubles);
//   report.SetServed("outcome", ServedCohorts(before, after));
//   if (!report.Mismatches().empty()) { /* the server miscounted */ }
//
// Thread-safety: not thread-safe; fill it from one thread.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "makegood/v1/insights_service.pb.h"
#include "services/retention/retention_store.h"
#include "services/retention/trouble.h"

namespace makegood::population {

inline constexpr size_t kWindows = retention::kWindowDays.size();

// One trouble of a simulated member and what followed it.
struct SimTrouble {
  // Its labels, as the server labels it (retention::TroubleOf); `at` is
  // when the simulator had the answer.
  retention::Trouble trouble;
  std::string segment;
  // The model's probability that the member orders again within 90 days
  // after its troubles (this one and the others of its session).
  double probability = 0;
  // The day the member decided to order again (1-90), 0 when not.
  int decided_day = 0;
  // Per window (retention::kWindowDays): an order of the member was
  // delivered within it, and what the orders within it cost in total
  // (what the server should count; the decision, unless placing failed).
  std::array<bool, kWindows> reordered = {};
  std::array<int64_t, kWindows> spend_minor = {};
};

// A split of the troubles into cohorts, as one GetRetentionStats request
// asks for it. The first dimension is RETENTION_DIMENSION_CURRENCY (the
// table is per currency). Only labels the simulator knows can be used:
// not TIME_TO_SUCCEEDED (settlement decides it after the answer).
struct RetentionGrouping {
  std::string name;  // "outcome"
  std::vector<v1::RetentionDimension> group_by;
};

// Per currency and outcome, and per currency and recovery. A run against
// an experiment would add e.g. {"arm", {CURRENCY, ARM, OUTCOME}}.
std::vector<RetentionGrouping> DefaultRetentionGroupings();

// The request that reads `grouping` from the server.
v1::GetRetentionStatsRequest RequestOf(const RetentionGrouping& grouping);

// What `trouble` is labelled for `dimension`; "" for TIME_TO_SUCCEEDED.
std::string LabelOf(const retention::Trouble& trouble,
                    v1::RetentionDimension dimension);

// One window of a cohort, as the server's store counts it: troubles,
// reordered, and money per currency (no zero entries; paid is served only:
// refunds that succeeded).
using WindowCounts = retention::WindowCounts;

struct CohortCounts {
  // Simulated only: the sum of the troubles' model probabilities.
  double probability_sum = 0;
  std::array<WindowCounts, kWindows> windows;
};

// Cohorts by their labels, in the grouping's order.
using Cohorts = std::map<std::vector<std::string>, CohortCounts>;

Cohorts SimulatedCohorts(const std::vector<SimTrouble>& troubles,
                         const RetentionGrouping& grouping);

// What the server served for one grouping, less what it served before the
// run (`before`, the same request): the cohorts of this run's troubles
// when nothing else had a window open meanwhile.
Cohorts ServedCohorts(const v1::GetRetentionStatsResponse& before,
                      const v1::GetRetentionStatsResponse& after);

// How well the reorders kept to their days: a reorder must be recorded
// before the first window it counts for closes (and the member's troubles
// must be answered within a retention day), or the server may count it
// otherwise than the simulator did.
struct RetentionTiming {
  int64_t reorders = 0;  // Placed.
  int64_t late = 0;      // Placed with no margin left.
  // The smallest margin left before a window closed; InfiniteDuration()
  // when no reorder was placed.
  absl::Duration tightest = absl::InfiniteDuration();
};

class RetentionReport {
 public:
  RetentionReport(absl::Duration day, std::vector<RetentionGrouping> groupings)
      : day_(day), groupings_(std::move(groupings)) {}

  void AddTroubles(const std::vector<SimTrouble>& troubles);
  // The server's cohorts of grouping `name`.
  void SetServed(const std::string& name, Cohorts served);
  void SetTiming(const RetentionTiming& timing) { timing_ = timing; }
  // Why the comparison could not be made (e.g. windows still open when
  // the tool gave up waiting); reported as a mismatch.
  void AddProblem(std::string problem) {
    problems_.push_back(std::move(problem));
  }

  const std::vector<SimTrouble>& troubles() const { return troubles_; }
  const RetentionTiming& timing() const { return timing_; }
  // Every cohort window where the server's counts differ from the
  // simulator's, and every problem, one line each; empty when they agree.
  std::vector<std::string> Mismatches() const;

  // Per currency and grouping: the troubles, the model's mean probability,
  // the simulated reorder rates with the 95 % Wilson interval of the
  // served counts, and whether the server agrees.
  std::string Table() const;
  // One JSON object (the JSON line's "retention" field).
  std::string Json() const;

 private:
  // One cohort of a grouping, simulated and served side by side.
  struct Row {
    std::vector<std::string> labels;
    CohortCounts simulated;
    CohortCounts served;  // Zero counts when the server has none.
    bool read = false;    // The grouping was read from the server.
    bool same = false;    // Read, and equal in every window.
  };
  // Every cohort either side has, by labels.
  std::vector<Row> Rows(const RetentionGrouping& grouping) const;

  absl::Duration day_;
  std::vector<RetentionGrouping> groupings_;
  std::vector<SimTrouble> troubles_;
  std::map<std::string, Cohorts> served_;  // By grouping name.
  RetentionTiming timing_;
  std::vector<std::string> problems_;
};

}  // namespace makegood::population
