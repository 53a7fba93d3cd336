#include "services/api/experiment_rpcs.h"

#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "services/core/log.h"
#include "services/core/status_macros.h"
#include "services/core/text.h"
#include "services/experiments/experiment.h"
#include "services/policy_proto/engine_proto.h"
#include "services/retention/trouble.h"

namespace makegood::api {
namespace {

using makegood::v1::Policy;

// The candidate of a start request, or its violations under `field`.
std::optional<Policy> CandidateOf(
    const makegood::v1::StartExperimentRequest& request,
    Violations& violations) {
  Policy candidate;
  std::string field = "candidate";
  switch (request.candidate_policy_case()) {
    case makegood::v1::StartExperimentRequest::kCandidate:
      candidate = request.candidate();
      break;
    case makegood::v1::StartExperimentRequest::kCandidateText: {
      absl::StatusOr<Policy> parsed =
          policy_file::ParsePolicyText(request.candidate_text());
      if (!parsed.ok()) {
        violations.Add("candidate_text",
                       std::string(parsed.status().message()));
        return std::nullopt;
      }
      candidate = *std::move(parsed);
      field = "candidate_text";
      break;
    }
    default:
      violations.Add("candidate", "set candidate or candidate_text");
      return std::nullopt;
  }
  std::vector<policy_file::PolicyViolation> found =
      policy_file::ValidatePolicy(candidate);
  for (policy_file::PolicyViolation& v : found) {
    violations.Add(v.field.empty() ? field : absl::StrCat(field, ".", v.field),
                   std::move(v.description));
  }
  if (!found.empty()) return std::nullopt;
  return candidate;
}

std::set<std::string> Currencies(const Policy& policy) {
  std::set<std::string> out;
  if (!policy.currency().empty()) out.insert(policy.currency());
  for (const makegood::v1::Market& market : policy.markets()) {
    out.insert(market.currency());
  }
  return out;
}

std::set<std::string> Tiers(const Policy& policy) {
  std::set<std::string> out;
  for (const makegood::v1::Tier& tier : policy.tiers()) out.insert(tier.name());
  return out;
}

// What the active policy serves and the candidate does not, or "".
std::string Missing(const Policy& active, const Policy& candidate) {
  std::vector<std::string> missing;
  const std::set<std::string> currencies = Currencies(candidate);
  for (const std::string& currency : Currencies(active)) {
    if (!currencies.contains(currency)) {
      missing.push_back(absl::StrCat("currency ", currency));
    }
  }
  const std::set<std::string> tiers = Tiers(candidate);
  for (const std::string& tier : Tiers(active)) {
    if (!tiers.contains(tier)) missing.push_back(absl::StrCat("tier ", tier));
  }
  return absl::StrJoin(missing, ", ");
}

void ValidateName(const std::string& name, Violations& violations) {
  if (!IsLowerToken(name, 64)) {
    violations.Add("name", "must be 1-64 characters of [a-z0-9_-]");
  }
}

}  // namespace

std::optional<Policy> ValidateStartExperiment(
    const makegood::v1::StartExperimentRequest& request,
    Violations& violations) {
  ValidateName(request.name(), violations);
  if (request.candidate_share_bp() < 1 ||
      request.candidate_share_bp() >= experiments::kBasisPoints) {
    violations.Add("candidate_share_bp",
                   "must be 1-9999 (basis points of members)");
  }
  const makegood::v1::ExperimentGuardrails& g = request.guardrails();
  for (const auto& [currency, cap] : g.max_candidate_minor_per_day()) {
    const std::string field =
        absl::StrCat("guardrails.max_candidate_minor_per_day[", currency, "]");
    if (!IsCurrencyCode(currency)) {
      violations.Add(field, "must be keyed by an ISO 4217 code");
    } else if (cap <= 0) {
      violations.Add(field, "must be positive");
    }
  }
  if (!(g.max_abuse_percent() >= 0 && g.max_abuse_percent() <= 100)) {
    violations.Add("guardrails.max_abuse_percent", "must be 0-100");
  }
  if (g.min_refunds_for_abuse() < 0) {
    violations.Add("guardrails.min_refunds_for_abuse", "must be >= 0");
  }
  if (g.min_troubles_per_arm() < 0) {
    violations.Add("guardrails.min_troubles_per_arm", "must be >= 0");
  }
  if (request.description().size() > kMaxExperimentDescription) {
    violations.Add("description", "at most 2000 bytes");
  }
  return CandidateOf(request, violations);
}

void ValidateGetExperiment(const makegood::v1::GetExperimentRequest& request,
                           Violations& violations) {
  ValidateName(request.name(), violations);
}

void ValidateStopExperiment(const makegood::v1::StopExperimentRequest& request,
                            Violations& violations) {
  ValidateName(request.name(), violations);
  if (request.reason().empty() || request.reason().size() > kMaxStopReason) {
    violations.Add("reason", "is required, at most 500 bytes: why it stops");
  }
}

void ExperimentRpcs::Refresh() {
  if (watcher_ == nullptr) return;
  if (absl::Status status = watcher_->Poll(); !status.ok()) {
    Log(LogLevel::kWarning, "experiment_poll_failed",
        {{"error", status.ToString()}});
  }
}

absl::Status ExperimentRpcs::Start(
    const makegood::v1::StartExperimentRequest& request, Policy candidate,
    const std::string& caller,
    makegood::v1::StartExperimentResponse& response) {
  std::shared_ptr<const policy_file::PolicySnapshot> active = policy_.Get();
  if (std::string missing = Missing(active->policy, candidate);
      !missing.empty()) {
    return ErrorWithReason(
        absl::StatusCode::kFailedPrecondition, "POLICY_PRECONDITION",
        absl::StrCat("the candidate must serve every member the active policy "
                     "serves; it lacks ",
                     missing));
  }
  const absl::Time now = clock_.Now();
  makegood::v1::Experiment& experiment = *response.mutable_experiment();
  experiment.set_name(request.name());
  experiment.set_candidate_version(policy_file::PolicyVersion(candidate));
  *experiment.mutable_candidate() = std::move(candidate);
  experiment.set_control_version(active->version);
  experiment.set_candidate_share_bp(request.candidate_share_bp());
  *experiment.mutable_guardrails() = request.guardrails();
  experiment.set_state(makegood::v1::EXPERIMENT_STATE_RUNNING);
  *experiment.mutable_started_at() = policy_proto::ToTimestamp(now);
  experiment.set_started_by(caller);
  experiment.set_description(request.description());
  MAKEGOOD_RETURN_IF_ERROR(store_.Start(
      experiment,
      absl::StrCat(experiment.candidate_version(), " against ",
                   experiment.control_version(), " for ",
                   experiment.candidate_share_bp(), " bp of members; ",
                   experiment.guardrails().ShortDebugString())));
  Log(LogLevel::kInfo, "experiment_started",
      {{"name", experiment.name()},
       {"by", caller},
       {"candidate_version", experiment.candidate_version()},
       {"control_version", experiment.control_version()},
       {"candidate_share_bp", experiment.candidate_share_bp()}});
  Refresh();
  return absl::OkStatus();
}

absl::Status ExperimentRpcs::Get(
    const makegood::v1::GetExperimentRequest& request,
    makegood::v1::GetExperimentResponse& response) {
  absl::StatusOr<makegood::v1::Experiment> experiment =
      store_.Get(request.name());
  if (!experiment.ok()) return experiment.status();
  absl::StatusOr<std::pair<experiments::ArmTally, experiments::ArmTally>> arms =
      store_.ReadArms(request.name());
  if (!arms.ok()) return arms.status();
  // Each arm's retention: troubles labelled with its arm, every window.
  std::vector<makegood::v1::RetentionWindow> retention[2];
  const std::string labels[2] = {experiments::ControlArm(request.name()),
                                 experiments::CandidateArm(request.name())};
  for (int i = 0; i < 2; ++i) {
    retention::RetentionQuery query;
    query.filters = {{retention::Label::kArm, labels[i]}};
    absl::Notification read;
    absl::StatusOr<retention::RetentionStats> stats;
    retention_.Read(std::move(query),
                    [&](absl::StatusOr<retention::RetentionStats> s) {
                      stats = std::move(s);
                      read.Notify();
                    });
    read.WaitForNotification();
    if (!stats.ok()) return stats.status();
    retention::WindowCounts empty;
    for (size_t w = 0; w < retention::kWindowDays.size(); ++w) {
      const retention::WindowCounts& counts =
          stats->cohorts.empty() ? empty : stats->cohorts[0].windows[w];
      makegood::v1::RetentionWindow& out = retention[i].emplace_back();
      RetentionWindowToProto(retention::kWindowDays[w], counts, out);
    }
  }
  const int64_t day = absl::ToUnixSeconds(clock_.Now()) / 86400;
  *response.mutable_control() = experiments::ArmToProto(
      labels[0], experiment->control_version(), arms->first, day, retention[0]);
  *response.mutable_candidate() =
      experiments::ArmToProto(labels[1], experiment->candidate_version(),
                              arms->second, day, retention[1]);
  experiments::Judge(experiment->guardrails(), response);
  *response.mutable_experiment() = *std::move(experiment);
  return absl::OkStatus();
}

absl::Status ExperimentRpcs::Stop(
    const makegood::v1::StopExperimentRequest& request,
    const std::string& caller, makegood::v1::StopExperimentResponse& response) {
  absl::StatusOr<makegood::v1::Experiment> stopped =
      store_.Stop(request.name(), clock_.Now(), caller, request.reason(),
                  /*tripped=*/false);
  if (!stopped.ok()) return stopped.status();
  Log(LogLevel::kInfo, "experiment_stopped",
      {{"name", request.name()}, {"by", caller}, {"reason", request.reason()}});
  *response.mutable_experiment() = *std::move(stopped);
  Refresh();
  return absl::OkStatus();
}

}  // namespace makegood::api
