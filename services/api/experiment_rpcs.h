// File: services/api/experiment_rpcs.h
//
// The work behind PolicyService's experiment methods (StartExperiment,
// GetExperiment, StopExperiment): request checks (pure), and the blocking
// work PolicyService runs on its worker thread, never on a gRPC or the
// Redis I/O thread. What an experiment is: services/experiments/.
//
// Thread-safety: thread-safe; all references must outlive it.
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "makegood/v1/policy_service.pb.h"
#include "services/core/clock.h"
#include "services/errors/errors.h"
#include "services/experiments/experiment_store.h"
#include "services/experiments/experiment_watcher.h"
#include "services/policy_file/policy_document.h"
#include "services/redis/redis_client.h"
#include "services/retention/retention_store.h"
#include "services/store/key_schema.h"

namespace makegood::api {

inline constexpr size_t kMaxExperimentDescription = 2000;
inline constexpr size_t kMaxStopReason = 500;

// Violations of each method's request (pure). StartExperiment also checks
// the candidate policy ("candidate.tiers[1].name", "candidate_text") and
// returns it when it is valid, parsed once for Start.
std::optional<makegood::v1::Policy> ValidateStartExperiment(
    const makegood::v1::StartExperimentRequest& request,
    Violations& violations);
void ValidateGetExperiment(const makegood::v1::GetExperimentRequest& request,
                           Violations& violations);
void ValidateStopExperiment(const makegood::v1::StopExperimentRequest& request,
                            Violations& violations);

class ExperimentRpcs {
 public:
  // `watcher` (may be null) is told at once when this replica starts or
  // stops an experiment; the others see it within a poll.
  ExperimentRpcs(redis::RedisClient& redis, const store::KeySchema& keys,
                 const policy_file::ActivePolicy& policy, const Clock& clock,
                 experiments::ExperimentWatcher* watcher)
      : store_(redis, keys),
        retention_(redis, keys),
        policy_(policy),
        clock_(clock),
        watcher_(watcher) {}

  // Blocking; on a worker thread. Requests passed their Validate*.
  absl::Status Start(const makegood::v1::StartExperimentRequest& request,
                     makegood::v1::Policy candidate, const std::string& caller,
                     makegood::v1::StartExperimentResponse& response);
  absl::Status Get(const makegood::v1::GetExperimentRequest& request,
                   makegood::v1::GetExperimentResponse& response);
  absl::Status Stop(const makegood::v1::StopExperimentRequest& request,
                    const std::string& caller,
                    makegood::v1::StopExperimentResponse& response);

 private:
  void Refresh();

  experiments::ExperimentStore store_;
  retention::RetentionStore retention_;
  const policy_file::ActivePolicy& policy_;
  const Clock& clock_;
  experiments::ExperimentWatcher* const watcher_;
};

}  // namespace makegood::api
