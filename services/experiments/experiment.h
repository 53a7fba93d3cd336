// File: services/experiments/experiment.h
//
// Policy experiments, the pure part: which arm a member is in, what each
// arm's tallies say, when a guardrail trips, and the verdict.
//
// A running experiment splits members by a hash of the experiment's name and
// the member id (FNV-1a 64, stable across processes and builds): the
// candidate policy decides for `candidate_share_bp` of every 10 000, the
// active policy for the rest. A member stays in one arm for the whole
// experiment. Each decision is labelled "<name>:control" or
// "<name>:candidate" (the ARM label of retention after trouble), and the
// rating commit tallies it in its partition (KeySchema::ArmsKey, fields
// "<arm>\t<stat>": ratings, instant, refunds, granted:<CUR>,
// day:<day>:<CUR>, abuse, abuse_minor:<CUR>).
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "makegood/v1/insights_service.pb.h"
#include "makegood/v1/policy_service.pb.h"
#include "services/policy_file/policy_document.h"
#include "services/redis/redis_reply.h"

namespace makegood::experiments {

inline constexpr int kBasisPoints = 10'000;

// Whether `member_id` is in the candidate arm of experiment `name`.
bool InCandidateArm(absl::string_view name, absl::string_view member_id,
                    int candidate_share_bp);
std::string ControlArm(absl::string_view name);
std::string CandidateArm(absl::string_view name);

// An experiment as the rating flow needs it.
struct RunningExperiment {
  std::string name;
  int candidate_share_bp = 0;
  std::string control_arm;
  std::string candidate_arm;
  std::shared_ptr<const policy_file::PolicySnapshot> candidate;  // Never null.
};

// Where the rating flow learns which experiment runs (ExperimentWatcher).
class ExperimentSource {
 public:
  virtual ~ExperimentSource() = default;
  // The running experiment, or null.
  virtual std::shared_ptr<const RunningExperiment> Running() const = 0;
};

// One arm's decisions so far, summed over the partitions.
struct ArmTally {
  int64_t ratings = 0;
  int64_t instant = 0;  // Made good at once.
  int64_t refunds = 0;
  int64_t abuse = 0;                             // Refunds marked abusive.
  std::map<std::string, int64_t> granted_minor;  // Per currency.
  std::map<std::string, int64_t> abuse_minor;    // Per currency.
  std::map<int64_t, std::map<std::string, int64_t>> days;  // Day -> money.
};

// Adds the fields of `arm` in one partition's tallies (HGETALL of
// KeySchema::ArmsKey) to `tally`; other arms' fields are skipped. INTERNAL
// for a field of `arm` that is not a tally.
absl::Status AddArmFields(const std::vector<redis::RedisReply>& hash,
                          absl::string_view arm, ArmTally& tally);

// Why the guardrails stop the experiment, or nullopt: the candidate granted
// more than its cap today (`day`: days since the epoch, UTC) in a currency,
// or more of its refunds were marked abusive than the ceiling allows (once
// it has min_refunds_for_abuse refunds).
std::optional<std::string> GuardrailTrip(
    const makegood::v1::ExperimentGuardrails& guardrails,
    const ArmTally& candidate, int64_t day);

// An arm as GetExperiment reports it; `retention` is its 7-, 30- and 90-day
// windows.
makegood::v1::ExperimentArm ArmToProto(
    const std::string& arm, const std::string& policy_version,
    const ArmTally& tally, int64_t day,
    const std::vector<makegood::v1::RetentionWindow>& retention);

// The verdict on the 30-day reorder rates: NOT_ENOUGH_DATA until both arms
// have min_troubles_per_arm closed windows (at least 1), then by the 95 %
// interval of the difference (Newcombe's hybrid score interval), with a
// sentence a risk lead can read. Fills verdict, verdict_text and the
// difference fields of `response`, whose control and candidate are set.
void Judge(const makegood::v1::ExperimentGuardrails& guardrails,
           makegood::v1::GetExperimentResponse& response);

}  // namespace makegood::experiments
