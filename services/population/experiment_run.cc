#include "services/population/experiment_run.h"

#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"
#include "services/population/claim.h"
#include "services/population/rng.h"
#include "services/retention/trouble.h"

namespace makegood::population {
namespace {

// The model's difference is clear when it is this many standard errors.
constexpr double kClearZ = 3.0;

absl::StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Directory(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string Pct(double share) {
  return absl::StrFormat("%.1f %%", 100 * share);
}

std::string Money(const std::map<std::string, int64_t>& money) {
  if (money.empty()) return "0";
  std::vector<std::string> parts;
  for (const auto& [currency, minor] : money) {
    parts.push_back(absl::StrCat(currency, " ", minor));
  }
  return absl::StrJoin(parts, " + ");
}

template <typename Map>
std::string PerRating(const Map& money, int64_t ratings) {
  if (money.empty() || ratings == 0) return "-";
  std::vector<std::string> parts;
  for (const auto& [currency, minor] : money) {
    parts.push_back(absl::StrFormat(
        "%s %.1f", currency,
        static_cast<double>(minor) / static_cast<double>(ratings)));
  }
  return absl::StrJoin(parts, " + ");
}

const v1::RetentionWindow* Window30(const v1::ExperimentArm& arm) {
  for (const v1::RetentionWindow& w : arm.retention()) {
    if (w.days() == 30) return &w;
  }
  return nullptr;
}

int Direction(v1::ExperimentVerdict verdict) {
  switch (verdict) {
    case v1::EXPERIMENT_VERDICT_CANDIDATE_RETAINS_MORE:
      return 1;
    case v1::EXPERIMENT_VERDICT_CANDIDATE_RETAINS_LESS:
      return -1;
    default:
      return 0;
  }
}

bool Tripped(const v1::GetExperimentResponse& served) {
  return served.experiment().state() == v1::EXPERIMENT_STATE_TRIPPED;
}

double Rate(int64_t part, int64_t total) {
  return total == 0 ? 0.0
                    : static_cast<double>(part) / static_cast<double>(total);
}

double ExpectedRate(const SimArm& arm) {
  return arm.troubles == 0
             ? 0.0
             : arm.expected_30d / static_cast<double>(arm.troubles);
}

}  // namespace

absl::StatusOr<LoadedPlan> LoadExperimentPlan(const std::string& path) {
  absl::StatusOr<std::string> text = ReadText(path);
  if (!text.ok()) return text.status();
  LoadedPlan loaded;
  loaded.path = path;
  if (!google::protobuf::TextFormat::ParseFromString(*text, &loaded.plan)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path,
        ": not a makegood.population.ExperimentPlan textproto (see "
        "services/population/population.proto)"));
  }
  const ExperimentPlan& plan = loaded.plan;
  auto bad = [&](absl::string_view field, absl::string_view want) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", field, ": ", want));
  };
  if (plan.name().empty()) return bad("name", "required");
  if (plan.candidate_share_bp() < 1 || plan.candidate_share_bp() > 9999) {
    return bad("candidate_share_bp", "want 1-9999");
  }
  if (!(plan.abuse_caught() >= 0 && plan.abuse_caught() <= 1)) {
    return bad("abuse_caught", "want 0-1");
  }
  if (plan.candidate_policy().empty()) {
    return bad("candidate_policy", "required");
  }
  const std::string candidate =
      plan.candidate_policy().front() == '/'
          ? plan.candidate_policy()
          : absl::StrCat(Directory(path), "/", plan.candidate_policy());
  absl::StatusOr<std::string> candidate_text = ReadText(candidate);
  if (!candidate_text.ok()) {
    return bad("candidate_policy", candidate_text.status().message());
  }
  loaded.candidate_text = *std::move(candidate_text);
  return loaded;
}

std::string ExperimentName(const std::string& prefix,
                           const ExperimentPlan& plan) {
  std::string name =
      absl::AsciiStrToLower(absl::StrCat(prefix, "-", plan.name()));
  for (char& c : name) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '-') c = '-';
  }
  return name;
}

absl::StatusOr<std::unique_ptr<ExperimentRun>> ExperimentRun::Start(
    Client& client, const LoadedPlan& loaded, const std::string& prefix,
    double within_30_days) {
  const ExperimentPlan& plan = loaded.plan;
  v1::StartExperimentRequest request;
  request.set_name(ExperimentName(prefix, plan));
  request.set_candidate_text(loaded.candidate_text);
  request.set_candidate_share_bp(plan.candidate_share_bp());
  request.set_description(plan.description());
  v1::ExperimentGuardrails& guardrails = *request.mutable_guardrails();
  guardrails.mutable_max_candidate_minor_per_day()->insert(
      plan.max_candidate_minor_per_day().begin(),
      plan.max_candidate_minor_per_day().end());
  guardrails.set_max_abuse_percent(plan.max_abuse_percent());
  guardrails.set_min_refunds_for_abuse(plan.min_refunds_for_abuse());
  guardrails.set_min_troubles_per_arm(plan.min_troubles_per_arm());
  v1::StartExperimentResponse response;
  if (grpc::Status s = client.StartExperiment(request, response); !s.ok()) {
    const std::string message = absl::StrCat(
        "PolicyService.StartExperiment ", request.name(), " (", loaded.path,
        "): ", s.error_code(), " ", s.error_message());
    return s.error_code() == grpc::UNAVAILABLE
               ? absl::UnavailableError(message)
               : absl::FailedPreconditionError(message);
  }
  return std::unique_ptr<ExperimentRun>(new ExperimentRun(
      client, plan, std::move(*response.mutable_experiment()), within_30_days));
}

ExperimentRun::ExperimentRun(Client& client, ExperimentPlan plan,
                             v1::Experiment experiment, double within_30_days)
    : client_(client),
      plan_(std::move(plan)),
      experiment_(std::move(experiment)),
      within_30_days_(within_30_days) {}

std::string ExperimentRun::ArmOf(const std::string& policy_version) const {
  if (policy_version == experiment_.candidate_version()) {
    return absl::StrCat(experiment_.name(), ":candidate");
  }
  if (policy_version == experiment_.control_version()) {
    return absl::StrCat(experiment_.name(), ":control");
  }
  return retention::kNoArm;
}

void ExperimentRun::Note(const SimMember& member, const RecentOrder& rated,
                         const v1::SubmitRatingResponse& response) {
  const v1::Decision& decision = response.decision();
  const bool candidate =
      decision.policy_version() == experiment_.candidate_version();
  if (!candidate && decision.policy_version() != experiment_.control_version())
    return;
  const bool abuser = member.group == GROUP_ABUSER;
  const int64_t amount =
      decision.has_refund() ? decision.refund().amount_minor() : 0;
  // Drawn for every abuser's rating, paid or not, from the order's own
  // stream: the same catches whatever the policy answers.
  const bool caught =
      abuser &&
      Rng::For(0, rated.order.order_id(), 0).Chance(plan_.abuse_caught());
  bool marked = false;
  std::string error;
  if (caught && amount > 0) {
    v1::MarkRefundAbusiveRequest request;
    request.set_refund_id(decision.refund().refund_id());
    request.set_operator_id("risk-team");
    request.set_reason("simulated_abuse_correction");
    v1::MarkRefundAbusiveResponse marked_response;
    if (grpc::Status s = client_.MarkRefundAbusive(request, marked_response);
        s.ok()) {
      marked = marked_response.newly_marked();
    } else {
      error = absl::StrCat("MarkRefundAbusive ", request.refund_id(), ": ",
                           s.error_code(), " ", s.error_message());
    }
  }
  absl::MutexLock lock(&mu_);
  SimArm& arm = candidate ? candidate_ : control_;
  ++arm.ratings;
  if (MadeGoodAtOnce(decision.outcome())) ++arm.instant;
  if (amount > 0) {
    ++arm.refunds;
    arm.granted_minor[decision.refund().currency()] += amount;
  }
  if (abuser) {
    ++arm.abuser_ratings;
    if (amount > 0) {
      ++arm.abuser_refunds;
      arm.abuser_granted_minor[decision.refund().currency()] += amount;
    }
  }
  if (marked) ++arm.marked_abusive;
  if (!error.empty()) {
    ++errors_;
    if (first_error_.empty()) first_error_ = error;
  }
}

ExperimentReport ExperimentRun::Finish(
    const std::vector<SimTrouble>* troubles) {
  ExperimentReport report;
  {
    absl::MutexLock lock(&mu_);
    report.control = control_;
    report.candidate = candidate_;
    report.errors = errors_;
    if (!first_error_.empty()) {
      std::cerr << "population: experiment: first failed call: " << first_error_
                << "\n";
    }
  }
  report.retention = troubles != nullptr;
  if (troubles != nullptr) {
    const std::string candidate_arm = ArmOf(experiment_.candidate_version());
    const std::string control_arm = ArmOf(experiment_.control_version());
    for (const SimTrouble& t : *troubles) {
      SimArm* arm = t.trouble.arm == candidate_arm ? &report.candidate
                    : t.trouble.arm == control_arm ? &report.control
                                                   : nullptr;
      if (arm == nullptr) continue;
      const double p = t.probability * within_30_days_;
      ++arm->troubles;
      arm->expected_30d += p;
      arm->expected_30d_variance += p * (1 - p);
      if (t.reordered[1]) ++arm->reordered_30d;
    }
  }
  if (grpc::Status s = client_.GetExperiment(experiment_.name(), report.served);
      s.ok()) {
    report.read = true;
  } else {
    report.served.mutable_experiment()->set_name(experiment_.name());
    std::cerr << "population: experiment: GetExperiment " << experiment_.name()
              << ": " << s.error_code() << " " << s.error_message() << "\n";
  }
  return report;
}

std::vector<std::string> ExperimentReport::Problems() const {
  std::vector<std::string> out;
  if (!read) {
    out.push_back(
        absl::StrCat("GetExperiment ", served.experiment().name(), " failed"));
    return out;
  }
  if (errors > 0) {
    out.push_back(absl::StrCat(errors, " MarkRefundAbusive calls failed"));
  }
  const bool tripped = Tripped(served);
  auto check = [&](const char* name, const SimArm& sim,
                   const v1::ExperimentArm& arm, bool exact) {
    auto compare = [&](const char* what, int64_t simulated, int64_t server) {
      // After a trip the server's control arm holds only the decisions
      // made while the experiment ran.
      if (exact ? simulated == server : server <= simulated) return;
      out.push_back(absl::StrCat(name, " ", what, ": served ", server,
                                 ", simulated ", simulated,
                                 exact ? "" : " (at most)"));
    };
    compare("ratings", sim.ratings, arm.ratings());
    compare("made good at once", sim.instant, arm.instant());
    compare("refunds", sim.refunds, arm.refunds());
    if (!retention) return;
    const v1::RetentionWindow* w = Window30(arm);
    compare("30-day troubles", sim.troubles, w == nullptr ? 0 : w->troubles());
    compare("30-day reorders", sim.reordered_30d,
            w == nullptr ? 0 : w->reordered());
  };
  check("control", control, served.control(), !tripped);
  check("candidate", candidate, served.candidate(), true);
  return out;
}

double ExperimentReport::ExpectedDifference() const {
  if (control.troubles == 0 || candidate.troubles == 0) return 0;
  return ExpectedRate(candidate) - ExpectedRate(control);
}

double ExperimentReport::ExpectedStandardError() const {
  if (control.troubles == 0 || candidate.troubles == 0) return 0;
  const double nc = static_cast<double>(control.troubles);
  const double nt = static_cast<double>(candidate.troubles);
  return std::sqrt(control.expected_30d_variance / (nc * nc) +
                   candidate.expected_30d_variance / (nt * nt));
}

std::string ExperimentReport::Agreement() const {
  if (!retention || !read) return "no verdict";
  const double diff = ExpectedDifference();
  const double se = ExpectedStandardError();
  const double z = se > 0 ? diff / se : 0;
  const int model = diff > 0 ? 1 : diff < 0 ? -1 : 0;
  const bool clear = std::abs(z) >= kClearZ;
  const v1::ExperimentVerdict verdict = served.verdict();
  const int said = Direction(verdict);
  if (said != 0 && said != model) return "DISAGREES";
  if (said != 0) return "agrees";
  if (verdict == v1::EXPERIMENT_VERDICT_NOT_ENOUGH_DATA && clear) {
    return "no verdict";
  }
  return clear ? "no clear verdict" : "sample too small";
}

std::string ExperimentReport::Table() const {
  const v1::Experiment& e = served.experiment();
  std::string out = absl::StrFormat(
      "== experiment %s: candidate %s (%d bp) against control %s; %s ==\n",
      e.name(), e.candidate_version(), e.candidate_share_bp(),
      e.control_version(), v1::ExperimentState_Name(e.state()));
  absl::StrAppendFormat(&out, "%-10s %8s %8s %8s  %-22s %-20s %-28s %9s\n",
                        "arm", "ratings", "instant", "refunds",
                        "granted/rating (minor)", "abuse marked",
                        "30-day reorders (server)", "model 30d");
  const bool tripped = Tripped(served);
  auto row = [&](const char* name, const SimArm& sim,
                 const v1::ExperimentArm& arm) {
    std::string reorders = "-";
    if (const v1::RetentionWindow* w = Window30(arm);
        w != nullptr && w->troubles() > 0) {
      reorders = absl::StrFormat("%s (%.1f-%.1f) of %d", Pct(w->reorder_rate()),
                                 100 * w->reorder_rate_low(),
                                 100 * w->reorder_rate_high(), w->troubles());
    }
    absl::StrAppendFormat(
        &out, "%-10s %8d %8s %8d  %-22s %-20s %-28s %9s\n", name, arm.ratings(),
        Pct(arm.instant_share()), arm.refunds(),
        PerRating(arm.granted_minor(), arm.ratings()),
        absl::StrFormat("%d (%.1f %%)", arm.abuse_corrections(),
                        arm.abuse_percent()),
        reorders, sim.troubles == 0 ? "-" : Pct(ExpectedRate(sim)));
  };
  row("control", control, served.control());
  row("candidate", candidate, served.candidate());
  absl::StrAppendFormat(&out, "verdict: %s: %s\n",
                        v1::ExperimentVerdict_Name(served.verdict()),
                        served.verdict_text());
  if (retention) {
    const double diff = ExpectedDifference();
    const double se = ExpectedStandardError();
    absl::StrAppendFormat(
        &out,
        "ground truth (retention model): expected 30-day reorders candidate "
        "%s, control %s: %+.1f points (standard error %.1f, z %+.1f); "
        "realized %s and %s\n",
        Pct(ExpectedRate(candidate)), Pct(ExpectedRate(control)), 100 * diff,
        100 * se, se > 0 ? diff / se : 0.0,
        Pct(Rate(candidate.reordered_30d, candidate.troubles)),
        Pct(Rate(control.reordered_30d, control.troubles)));
    const std::string agreement = Agreement();
    std::string why;
    if (agreement == "agrees") {
      why = "the verdict has the model's direction";
    } else if (agreement == "sample too small") {
      why = absl::StrFormat(
          "the model's difference is under %.0f standard errors: too small "
          "for this sample, and the verdict does not contradict it",
          kClearZ);
    } else if (agreement == "no clear verdict") {
      why =
          "the model's difference is clear, the server's interval still "
          "includes zero";
    } else if (agreement == "no verdict") {
      why = "not enough closed windows for a verdict";
    } else {
      why = "the verdict is the opposite of the model's direction";
    }
    absl::StrAppendFormat(&out, "verdict against the model: %s (%s)\n",
                          agreement, why);
  } else {
    out += "ground truth: none (run with --retention)\n";
  }
  absl::StrAppendFormat(
      &out,
      "abusers: candidate granted %s at once on %d of %d abuser ratings, "
      "control %s on %d of %d; per abuser rating %s against %s\n",
      Money(candidate.abuser_granted_minor), candidate.abuser_refunds,
      candidate.abuser_ratings, Money(control.abuser_granted_minor),
      control.abuser_refunds, control.abuser_ratings,
      PerRating(candidate.abuser_granted_minor, candidate.abuser_ratings),
      PerRating(control.abuser_granted_minor, control.abuser_ratings));
  if (tripped || e.state() == v1::EXPERIMENT_STATE_STOPPED) {
    const absl::Duration ran =
        absl::Seconds(google::protobuf::util::TimeUtil::DurationToSeconds(
            e.stopped_at() - e.started_at()));
    absl::StrAppendFormat(
        &out,
        "stopped%s %s after the start, after %d candidate refunds (%d marked "
        "abusive): %s\n",
        tripped ? " by its guardrail" : "", absl::FormatDuration(ran),
        served.candidate().refunds(), served.candidate().abuse_corrections(),
        e.stop_reason());
  }
  const std::vector<std::string> problems = Problems();
  if (problems.empty()) {
    absl::StrAppendFormat(
        &out,
        "experiment: the server's arms hold what the members did (ratings, "
        "made good at once, refunds%s%s)\n",
        retention ? ", 30-day troubles and reorders" : "",
        tripped ? "; the control arm up to the trip" : "");
  } else {
    absl::StrAppendFormat(&out, "EXPERIMENT MISMATCH (%d):\n", problems.size());
    for (const std::string& p : problems) absl::StrAppend(&out, "  ", p, "\n");
  }
  return out;
}

std::string ExperimentReport::Json() const {
  auto arm = [&](const SimArm& sim, const v1::ExperimentArm& served_arm) {
    const v1::RetentionWindow* w = Window30(served_arm);
    return nlohmann::json{
        {"version", served_arm.policy_version()},
        {"served",
         {{"ratings", served_arm.ratings()},
          {"instant", served_arm.instant()},
          {"refunds", served_arm.refunds()},
          {"granted_minor", served_arm.granted_minor()},
          {"abuse_corrections", served_arm.abuse_corrections()},
          {"troubles_30d", w == nullptr ? 0 : w->troubles()},
          {"reordered_30d", w == nullptr ? 0 : w->reordered()}}},
        {"simulated",
         {{"ratings", sim.ratings},
          {"instant", sim.instant},
          {"refunds", sim.refunds},
          {"granted_minor", sim.granted_minor},
          {"abuser_ratings", sim.abuser_ratings},
          {"abuser_refunds", sim.abuser_refunds},
          {"abuser_granted_minor", sim.abuser_granted_minor},
          {"marked_abusive", sim.marked_abusive},
          {"troubles_30d", sim.troubles},
          {"reordered_30d", sim.reordered_30d},
          {"expected_30d", sim.expected_30d}}}};
  };
  const std::vector<std::string> problems = Problems();
  return nlohmann::json{
      {"name", served.experiment().name()},
      {"state", v1::ExperimentState_Name(served.experiment().state())},
      {"stop_reason", served.experiment().stop_reason()},
      {"verdict", v1::ExperimentVerdict_Name(served.verdict())},
      {"verdict_text", served.verdict_text()},
      {"expected_difference", ExpectedDifference()},
      {"expected_standard_error", ExpectedStandardError()},
      {"agreement", Agreement()},
      {"control", arm(control, served.control())},
      {"candidate", arm(candidate, served.candidate())},
      {"match", problems.empty()},
      {"problems", problems}}
      .dump();
}

}  // namespace makegood::population
