// File: services/experiments/experiment_store.h
//
// Policy experiments in Redis: start and stop (lua/start_experiment.lua,
// lua/stop_experiment.lua, atomic, audited in mg:{x}:experiments:audit),
// read one or the running one, and sum an experiment's arm tallies over the
// partitions (KeySchema::ArmsKey).
//
// Stored: mg:{x}:experiment:<name> hash with `pb` (makegood.v1.Experiment as
// started, never rewritten) and the fields a stop sets, overlaid by readers:
// `state` (RUNNING, STOPPED, TRIPPED), `stopped_at_ms`, `stopped_by`,
// `stop_reason`. mg:{x}:experiments maps each name to its state and
// `running` to the running experiment's name. Names are never reused.
//
// Every method blocks on Redis: call it from a worker thread, never from a
// gRPC handler or a Redis callback.
//
// Thread-safety: thread-safe; the client and key schema must outlive it.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "makegood/v1/policy_service.pb.h"
#include "services/experiments/experiment.h"
#include "services/redis/redis_client.h"
#include "services/store/key_schema.h"

namespace makegood::experiments {

class ExperimentStore {
 public:
  ExperimentStore(redis::RedisClient& redis, const store::KeySchema& keys)
      : redis_(redis), keys_(keys) {}

  // Starts `experiment` (state RUNNING, started_at and started_by set by the
  // caller). FAILED_PRECONDITION with reason EXPERIMENT_EXISTS (the name was
  // used before) or EXPERIMENT_RUNNING (another one runs, named).
  absl::Status Start(const makegood::v1::Experiment& experiment,
                     const std::string& summary);

  // Stops `name` if it runs (tripped: by a guardrail) and returns it as it
  // is then; a stopped one is returned unchanged. NOT_FOUND.
  absl::StatusOr<makegood::v1::Experiment> Stop(const std::string& name,
                                                absl::Time now,
                                                const std::string& who,
                                                const std::string& reason,
                                                bool tripped);

  // NOT_FOUND for an unknown name.
  absl::StatusOr<makegood::v1::Experiment> Get(const std::string& name);
  // The running experiment's name, if one runs (stop_experiment.lua clears
  // it in the same step as the state, so the name alone says it runs).
  absl::StatusOr<std::optional<std::string>> RunningName();

  // The control's and the candidate's tallies of experiment `name`.
  absl::StatusOr<std::pair<ArmTally, ArmTally>> ReadArms(
      const std::string& name);

 private:
  redis::RedisClient& redis_;
  const store::KeySchema& keys_;
};

}  // namespace makegood::experiments
