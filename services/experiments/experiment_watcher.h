// File: services/experiments/experiment_watcher.h
//
// Every replica's view of the running policy experiment: a thread polls
// Redis (ExperimentStore::RunningName: one HGET) every `poll_interval`,
// reads a new experiment and builds its candidate policy's engine once, and
// hands it to the rating flow through Running() (ExperimentSource). A stopped
// experiment stops deciding within a poll. With `guard` (the worker processes),
// it also sums the arms' tallies every `guard_interval` and stops the
// experiment when a guardrail trips (GuardrailTrip), audited as
// "guardrail_tripped".
//
// Redis unreachable: the last view is kept (an experiment keeps deciding as
// it did, and stops once Redis answers again); logged.
//
// Thread-safety: Running() from any thread; Start/Stop from one. The client,
// key schema and clock must outlive the watcher.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/core/clock.h"
#include "services/experiments/experiment.h"
#include "services/experiments/experiment_store.h"
#include "services/redis/redis_client.h"
#include "services/store/key_schema.h"

namespace makegood::experiments {

struct WatcherOptions {
  absl::Duration poll_interval = absl::Seconds(1);
  // Check the guardrails (and stop the experiment when one trips).
  bool guard = false;
  absl::Duration guard_interval = absl::Seconds(5);
};

class ExperimentWatcher final : public ExperimentSource {
 public:
  ExperimentWatcher(redis::RedisClient& redis, const store::KeySchema& keys,
                    const Clock& clock, WatcherOptions options);
  ~ExperimentWatcher() override;

  ExperimentWatcher(const ExperimentWatcher&) = delete;
  ExperimentWatcher& operator=(const ExperimentWatcher&) = delete;

  // Polls once on the caller's thread (so the first rating already sees a
  // running experiment), then starts the thread.
  void Start();
  void Stop();

  std::shared_ptr<const RunningExperiment> Running() const override;

  // One poll, and one guardrail check if `guard` (tests call these).
  absl::Status Poll();
  absl::Status Guard();

 private:
  void Run();

  ExperimentStore store_;
  const Clock& clock_;
  const WatcherOptions options_;

  mutable absl::Mutex mu_;
  std::shared_ptr<const RunningExperiment> running_ ABSL_GUARDED_BY(mu_);
  // The running experiment's record, for the guard.
  std::shared_ptr<const makegood::v1::Experiment> record_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace makegood::experiments
