#include "services/experiments/experiment_watcher.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/core/log.h"
#include "services/policy_file/policy_document.h"

namespace makegood::experiments {

ExperimentWatcher::ExperimentWatcher(redis::RedisClient& redis,
                                     const store::KeySchema& keys,
                                     const Clock& clock, WatcherOptions options)
    : store_(redis, keys), clock_(clock), options_(options) {}

ExperimentWatcher::~ExperimentWatcher() { Stop(); }

void ExperimentWatcher::Start() {
  if (thread_.joinable()) return;
  if (absl::Status status = Poll(); !status.ok()) {
    Log(LogLevel::kWarning, "experiment_poll_failed",
        {{"error", status.ToString()}});
  }
  {
    absl::MutexLock lock(&mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void ExperimentWatcher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const RunningExperiment> ExperimentWatcher::Running() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

absl::Status ExperimentWatcher::Poll() {
  absl::StatusOr<std::optional<std::string>> name = store_.RunningName();
  if (!name.ok()) return name.status();
  if (!name->has_value()) {
    absl::MutexLock lock(&mu_);
    if (running_ != nullptr) {
      Log(LogLevel::kInfo, "experiment_ended", {{"name", running_->name}});
    }
    running_.reset();
    record_.reset();
    return absl::OkStatus();
  }
  {
    absl::MutexLock lock(&mu_);
    if (running_ != nullptr && running_->name == **name) {
      return absl::OkStatus();
    }
  }
  // A new experiment: read it and build its candidate's engine, once.
  absl::StatusOr<makegood::v1::Experiment> found = store_.Get(**name);
  if (!found.ok()) return found.status();
  const makegood::v1::Experiment& experiment = *found;
  absl::StatusOr<policy_file::PolicySnapshot> candidate =
      policy_file::BuildPolicySnapshot(experiment.candidate(), clock_.Now());
  if (!candidate.ok()) {
    return absl::InternalError(absl::StrCat(
        "experiment \"", experiment.name(),
        "\": its candidate no longer builds: ", candidate.status().message()));
  }
  auto running = std::make_shared<RunningExperiment>();
  running->name = experiment.name();
  running->candidate_share_bp = experiment.candidate_share_bp();
  running->control_arm = ControlArm(experiment.name());
  running->candidate_arm = CandidateArm(experiment.name());
  running->candidate = std::make_shared<const policy_file::PolicySnapshot>(
      *std::move(candidate));
  Log(LogLevel::kInfo, "experiment_running",
      {{"name", running->name},
       {"candidate_version", running->candidate->version},
       {"candidate_share_bp", running->candidate_share_bp}});
  absl::MutexLock lock(&mu_);
  running_ = std::move(running);
  record_ = std::make_shared<const makegood::v1::Experiment>(experiment);
  return absl::OkStatus();
}

absl::Status ExperimentWatcher::Guard() {
  std::shared_ptr<const makegood::v1::Experiment> record;
  {
    absl::MutexLock lock(&mu_);
    record = record_;
  }
  if (record == nullptr) return absl::OkStatus();
  absl::StatusOr<std::pair<ArmTally, ArmTally>> arms =
      store_.ReadArms(record->name());
  if (!arms.ok()) return arms.status();
  const absl::Time now = clock_.Now();
  const int64_t day = absl::ToUnixSeconds(now) / 86400;
  std::optional<std::string> trip =
      GuardrailTrip(record->guardrails(), arms->second, day);
  if (!trip.has_value()) return absl::OkStatus();
  absl::StatusOr<makegood::v1::Experiment> stopped =
      store_.Stop(record->name(), now, "guardrail", *trip, /*tripped=*/true);
  if (!stopped.ok()) return stopped.status();
  Log(LogLevel::kWarning, "experiment_guardrail_tripped",
      {{"name", record->name()}, {"reason", *trip}});
  return Poll();
}

void ExperimentWatcher::Run() {
  absl::Time next_guard = absl::InfinitePast();
  while (true) {
    if (absl::Status status = Poll(); !status.ok()) {
      Log(LogLevel::kWarning, "experiment_poll_failed",
          {{"error", status.ToString()}});
    }
    if (options_.guard && absl::Now() >= next_guard) {
      next_guard = absl::Now() + options_.guard_interval;
      if (absl::Status status = Guard(); !status.ok()) {
        Log(LogLevel::kWarning, "experiment_guard_failed",
            {{"error", status.ToString()}});
      }
    }
    absl::MutexLock lock(&mu_);
    auto stopping = [this]()
                        ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_; };
    mu_.AwaitWithTimeout(absl::Condition(&stopping), options_.poll_interval);
    if (stopping_) return;
  }
}

}  // namespace makegood::experiments
