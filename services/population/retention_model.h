// File: services/population/retention_model.h
//
// The population's retention model (population.proto RetentionModel): how
// likely a member is to order again after a trouble, given how the trouble
// was answered, and on which retention day. Decided from uniforms drawn in
// advance from the member's own stream (generator.h), so a seed and the
// server's answers fix every reorder.
//
// Example:
//   const std::vector<std::string> answers = {AnswerOf("REFUND", "claim")};
//   const double p = ReorderProbability(model, "honest_basic", answers);
//   const int day = ReorderDay(model, p, draw);  // 0: no reorder in 90 days
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "services/population/population.pb.h"

namespace makegood::population {

// The last day a reorder can fall on: the longest retention window.
inline constexpr int kMaxReorderDay = 90;

// The uniforms in [0, 1) one reorder is decided with. They are drawn for
// every rated order, whatever the server answers, so that the answer
// changes only whether and when the member reorders, never the draws of
// later orders or members.
struct ReorderDraw {
  double reorder = 0;  // Against the probability of ordering again.
  double window = 0;   // Days 1-7, 8-30 or 31-90, by the within_* shares.
  double day = 0;      // The day within those.
};

// What a trouble's recovery is looked up by: the outcome ("REFUND") for a
// claim, else the recovery label ("silent_recovered" or
// "silent_unrecovered"); the labels are the server's
// (retention::TroubleOf).
std::string AnswerOf(absl::string_view outcome, absl::string_view recovery);

// The probability that a member of `segment` orders again within 90 days
// after a trouble answered with `answer`: trouble_90d + recovered(answer) *
// (no_trouble_90d - trouble_90d), with the segment's overrides. An answer
// the model does not list recovers nothing.
double ReorderProbability(const RetentionModel& model,
                          absl::string_view segment, absl::string_view answer);

// The same after several troubles (in one session, before any reorder):
// each keeps its share ReorderProbability / no_trouble_90d of the member's
// retention, so each unanswered trouble costs a fifth of what is left when
// one costs a fifth (0.8 * 0.8 of the baseline after two). One answer: the
// probability above; none: no_trouble_90d.
double ReorderProbability(const RetentionModel& model,
                          absl::string_view segment,
                          const std::vector<std::string>& answers);

// The day (1-90) the member orders again, or 0 when they do not within 90
// days.
int ReorderDay(const RetentionModel& model, double probability,
               const ReorderDraw& draw);

// Checks `model` against `config`'s segments: probabilities in [0, 1],
// trouble_90d <= no_trouble_90d (for every segment), within_7_days <=
// within_30_days <= 1, answers known and listed once, overrides naming a
// segment once, and every segment's probability after every answer in
// [0, 1]. The error names the field.
absl::Status CheckRetentionModel(const RetentionModel& model,
                                 const PopulationConfig& config);

}  // namespace makegood::population
