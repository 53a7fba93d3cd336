// File: services/population/experiment_run.h
//
// A policy experiment run beside the population (makegood_population
// --experiment=FILE, an ExperimentPlan in population.proto): before the
// members come, PolicyService.StartExperiment with the plan's candidate;
// while they rate, each decision's arm is read off its policy version and
// every refund to a member of an abuser segment is marked abusive
// (RefundService.MarkRefundAbusive) with the plan's abuse_caught, feeding
// the abuse guardrail; after the run (and the retention windows), the
// server's arms and verdict (GetExperiment) beside the simulator's ground
// truth: per arm, the retention model's expected 30-day reorder rate and
// the realized one.
//
// What is checked exactly: each arm's ratings and its troubles and
// reorders in the 30-day window equal what the simulator saw (Problems()).
// After a guardrail trip the active policy decides every member again and
// the server labels those decisions with no arm, so the control arm's
// counts are then only bounded by the simulator's (its control-version
// decisions include the later ones); the candidate arm stays exact. The
// verdict is statistics, so it is judged, not required: it agrees with the
// model's direction, or the model's expected difference is too small for
// the sample, or it contradicts the model (Agreement()).
//
// Example:
//   absl::StatusOr<LoadedPlan> plan = LoadExperimentPlan(path);
//   auto run = ExperimentRun::Start(client, *plan, "pop", model);
//   ... sessions: run->ArmOf(decision), run->Note(...) per rating ...
//   ExperimentReport report = (*run)->Finish(retention_troubles);
//
// Thread-safety: ArmOf and Note from any thread; Start and Finish from one.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "makegood/v1/policy_service.pb.h"
#include "makegood/v1/rating_service.pb.h"
#include "services/population/client.h"
#include "services/population/generator.h"
#include "services/population/population.pb.h"
#include "services/population/retention_report.h"

namespace makegood::population {

// A plan and its candidate policy's text.
struct LoadedPlan {
  ExperimentPlan plan;
  std::string candidate_text;
  std::string path;  // The plan file, for messages.
};

// Reads the plan at `path` and the candidate policy it names (relative to
// the plan's directory) and checks the plan: a name, a share of 1-9999 bp,
// abuse_caught in [0, 1]. The server validates the rest (the candidate, the
// guardrails) at StartExperiment. The error names the file and the field.
absl::StatusOr<LoadedPlan> LoadExperimentPlan(const std::string& path);

// The experiment's name for a run with `prefix`: "<prefix>-<plan name>",
// lowercased, other characters than [a-z0-9_-] as '-'.
std::string ExperimentName(const std::string& prefix,
                           const ExperimentPlan& plan);

// One arm as the simulator saw it.
struct SimArm {
  int64_t ratings = 0;  // Answered (not replays), by this arm's version.
  int64_t instant = 0;  // Made good at once.
  int64_t refunds = 0;  // Decisions that moved money or credit at once.
  std::map<std::string, int64_t> granted_minor;  // Per currency.
  int64_t abuser_ratings = 0;
  int64_t abuser_refunds = 0;
  std::map<std::string, int64_t> abuser_granted_minor;
  int64_t marked_abusive = 0;  // MarkRefundAbusive calls that marked.
  // The ground truth of retention after trouble (from the retention run's
  // troubles): troubles, the model's expected 30-day reorders (the sum of
  // each trouble's 90-day probability times within_30_days) and the
  // realized ones.
  int64_t troubles = 0;
  double expected_30d = 0;
  double expected_30d_variance = 0;  // Sum of p (1 - p).
  int64_t reordered_30d = 0;
};

// What the experiment came to.
class ExperimentReport {
 public:
  ExperimentReport() = default;

  // The server's experiment, arms and verdict.
  v1::GetExperimentResponse served;
  bool read = false;  // GetExperiment answered.
  SimArm control;
  SimArm candidate;
  bool retention = false;  // The run tracked retention (ground truth).
  int64_t errors = 0;      // Failed MarkRefundAbusive calls.

  // Every exact count the server and the simulator disagree on, and every
  // problem; empty when they agree.
  std::vector<std::string> Problems() const;
  // The model's expected 30-day difference (candidate - control) and its
  // standard error, from the troubles' probabilities.
  double ExpectedDifference() const;
  double ExpectedStandardError() const;
  // "agrees", "sample too small" (the model's difference is under three
  // standard errors and the verdict is not the opposite direction), "no
  // clear verdict" (the model's difference is clear, the interval
  // includes zero), "DISAGREES" (the verdict is the opposite of the
  // model's direction), or "no verdict" (NOT_ENOUGH_DATA with a clear
  // model difference, or no retention tracked).
  std::string Agreement() const;

  std::string Table() const;
  std::string Json() const;  // One JSON object: the JSON line's "experiment".
};

class ExperimentRun {
 public:
  // StartExperiment named ExperimentName(prefix, plan); `within_30_days`
  // is the retention model's share of 90-day reorders within 30 days (0
  // without retention). The call's error as FAILED_PRECONDITION (the
  // server refused: another experiment runs, the name was used, the
  // candidate is invalid) or UNAVAILABLE.
  static absl::StatusOr<std::unique_ptr<ExperimentRun>> Start(
      Client& client, const LoadedPlan& plan, const std::string& prefix,
      double within_30_days);

  ExperimentRun(const ExperimentRun&) = delete;
  ExperimentRun& operator=(const ExperimentRun&) = delete;

  const v1::Experiment& experiment() const { return experiment_; }

  // The arm label ("<name>:candidate", "<name>:control") of a decision by
  // `policy_version`; retention::kNoArm for another version.
  std::string ArmOf(const std::string& policy_version) const;

  // A rating the server answered (not a replay) of `member`'s `rated`
  // order: tallied in its arm; a refund to an abuser is marked abusive
  // with the plan's probability.
  void Note(const SimMember& member, const RecentOrder& rated,
            const v1::SubmitRatingResponse& response);

  // Reads GetExperiment and sets the ground truth from `troubles` (the
  // retention run's; null without retention). Call once, after the run.
  ExperimentReport Finish(const std::vector<SimTrouble>* troubles);

 private:
  ExperimentRun(Client& client, ExperimentPlan plan, v1::Experiment experiment,
                double within_30_days);

  Client& client_;
  const ExperimentPlan plan_;
  const v1::Experiment experiment_;
  const double within_30_days_;
  absl::Mutex mu_;
  SimArm control_ ABSL_GUARDED_BY(mu_);
  SimArm candidate_ ABSL_GUARDED_BY(mu_);
  int64_t errors_ ABSL_GUARDED_BY(mu_) = 0;
  std::string first_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace makegood::population
