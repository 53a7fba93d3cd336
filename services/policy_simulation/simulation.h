// File: services/policy_simulation/simulation.h
//
// Policy simulation: runs makegood.v1.SimulationCase messages through a
// candidate policy engine and, optionally, a baseline (the active policy),
// and reports the outcome mix, the money and the cases decided differently.
// Shared by the makegood_policy command-line tool and the server's
// SimulatePolicy RPC. Moves no money and reads no clock: each case carries
// its own time (SimulationCase.rated_at, else an hour after delivery).
//
// Example:
//   std::vector<v1::SimulationCase> cases = ...;
//   SimulationResult result =
//       Simulate(*candidate.engine, baseline.engine.get(), cases);
//   result.response.candidate().outcomes();   // {"OUTCOME_REFUND": 12, ...}
//   result.response.differences();            // what the change changes
//   result.errors;                            // cases that could not run
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "makegood/v1/policy_service.pb.h"
#include "services/policy/decision.h"
#include "services/policy/engine.h"
#include "services/policy/inputs.h"

namespace makegood::policy_simulation {

// What the engine decides one case on.
struct CaseInputs {
  policy::MemberSnapshot member;
  policy::OrderSnapshot order;
  policy::RatingInput rating;
  absl::Time now;
};

// The engine inputs of `sim_case`. INVALID_ARGUMENT naming the field (e.g.
// "rating.line_ratings[0].satisfaction_percent") for a missing or
// out-of-range satisfaction or an unset or unknown reason; the engine checks
// the rest (amounts, lines, currency) when it decides.
[[nodiscard]] absl::StatusOr<CaseInputs> CaseToInputs(
    const makegood::v1::SimulationCase& sim_case);

// Whether two decisions differ in what they do: outcome, money now (amount
// and instrument), money under review, replacements, follow-ups or reason
// codes. The policy version, trust score and wording are not compared.
[[nodiscard]] bool SameDecision(const policy::Decision& a,
                                const policy::Decision& b);

// A case that could not be decided.
struct CaseError {
  // Position in the input and SimulationCase.case_id.
  int index = 0;
  std::string case_id;
  absl::Status status;
};

struct SimulationResult {
  // cases_evaluated counts the cases decided (errors excluded). Without a
  // baseline, `active` is empty and there are no differences.
  makegood::v1::SimulatePolicyResponse response;
  std::vector<CaseError> errors;
};

// Decides every case with `candidate` and, if not null, `baseline`. A case
// that either engine refuses is reported in `errors` and left out of the
// summaries.
[[nodiscard]] SimulationResult Simulate(
    const policy::PolicyEngine& candidate, const policy::PolicyEngine* baseline,
    absl::Span<const makegood::v1::SimulationCase> cases);

// Reads cases from text: JSON lines (one SimulationCase per line, in the
// protobuf JSON mapping; blank lines and lines starting with '#' skipped)
// when the first such line starts with '{', else a textproto
// makegood.v1.SimulationCases ("cases { ... } cases { ... }").
// INVALID_ARGUMENT naming the line on a parse error.
[[nodiscard]] absl::StatusOr<std::vector<makegood::v1::SimulationCase>>
ParseSimulationCases(absl::string_view text);

}  // namespace makegood::policy_simulation
