#include "services/experiments/experiment.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "services/policy/money.h"

namespace makegood::experiments {
namespace {

constexpr uint64_t kFnvOffset = 14695981039346656037ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

uint64_t Fnv1a(uint64_t hash, absl::string_view bytes) {
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= kFnvPrime;
  }
  return hash;
}

absl::Status BadField(absl::string_view field) {
  return absl::InternalError(
      absl::StrCat("malformed experiment tally field \"", field, "\""));
}

// The 30-day window of an arm's retention (days == 30), if reported.
const makegood::v1::RetentionWindow* Month(
    const makegood::v1::ExperimentArm& arm) {
  for (const makegood::v1::RetentionWindow& w : arm.retention()) {
    if (w.days() == 30) return &w;
  }
  return nullptr;
}

std::string Percent(double share) {
  return absl::StrFormat("%.1f %%", 100 * share);
}

std::string Points(double difference) {
  return absl::StrFormat("%+.1f", 100 * difference);
}

// "EUR 3.12 per rating against EUR 3.05" in every currency both granted.
std::string Cost(const makegood::v1::ExperimentArm& candidate,
                 const makegood::v1::ExperimentArm& control) {
  std::vector<std::string> parts;
  for (const auto& [currency, per_rating] :
       candidate.granted_minor_per_rating()) {
    auto other = control.granted_minor_per_rating().find(currency);
    const double control_per_rating =
        other == control.granted_minor_per_rating().end() ? 0 : other->second;
    parts.push_back(absl::StrCat(
        policy::FormatMoney(std::llround(per_rating), currency), " against ",
        policy::FormatMoney(std::llround(control_per_rating), currency)));
  }
  if (parts.empty()) return "granting nothing in either arm";
  return absl::StrCat("granting ", absl::StrJoin(parts, ", "), " per rating");
}

}  // namespace

bool InCandidateArm(absl::string_view name, absl::string_view member_id,
                    int candidate_share_bp) {
  uint64_t hash = Fnv1a(kFnvOffset, name);
  hash = Fnv1a(hash, absl::string_view("\0", 1));
  hash = Fnv1a(hash, member_id);
  return static_cast<int>(hash % kBasisPoints) < candidate_share_bp;
}

std::string ControlArm(absl::string_view name) {
  return absl::StrCat(name, ":control");
}

std::string CandidateArm(absl::string_view name) {
  return absl::StrCat(name, ":candidate");
}

absl::Status AddArmFields(const std::vector<redis::RedisReply>& hash,
                          absl::string_view arm, ArmTally& tally) {
  const std::string prefix = absl::StrCat(arm, "\t");
  for (size_t i = 0; i + 1 < hash.size(); i += 2) {
    absl::string_view field = hash[i].str;
    if (!absl::ConsumePrefix(&field, prefix)) continue;
    int64_t value = 0;
    if (!absl::SimpleAtoi(hash[i + 1].str, &value)) return BadField(field);
    std::vector<absl::string_view> parts = absl::StrSplit(field, ':');
    if (field == "ratings") {
      tally.ratings += value;
    } else if (field == "instant") {
      tally.instant += value;
    } else if (field == "refunds") {
      tally.refunds += value;
    } else if (field == "abuse") {
      tally.abuse += value;
    } else if (parts.size() == 2 && parts[0] == "granted") {
      tally.granted_minor[std::string(parts[1])] += value;
    } else if (parts.size() == 2 && parts[0] == "abuse_minor") {
      tally.abuse_minor[std::string(parts[1])] += value;
    } else if (int64_t day = 0; parts.size() == 3 && parts[0] == "day" &&
                                absl::SimpleAtoi(parts[1], &day)) {
      tally.days[day][std::string(parts[2])] += value;
    } else {
      return BadField(field);
    }
  }
  return absl::OkStatus();
}

std::optional<std::string> GuardrailTrip(
    const makegood::v1::ExperimentGuardrails& guardrails,
    const ArmTally& candidate, int64_t day) {
  auto today = candidate.days.find(day);
  if (today != candidate.days.end()) {
    for (const auto& [currency, cap] :
         guardrails.max_candidate_minor_per_day()) {
      auto granted = today->second.find(currency);
      if (granted != today->second.end() && granted->second > cap) {
        return absl::StrCat("guardrail: the candidate granted ",
                            policy::FormatMoney(granted->second, currency),
                            " today, above its daily cap of ",
                            policy::FormatMoney(cap, currency));
      }
    }
  }
  const int64_t min_refunds =
      std::max<int64_t>(1, guardrails.min_refunds_for_abuse());
  if (guardrails.max_abuse_percent() > 0 && candidate.refunds >= min_refunds) {
    const double percent = 100.0 * static_cast<double>(candidate.abuse) /
                           static_cast<double>(candidate.refunds);
    if (percent > guardrails.max_abuse_percent()) {
      return absl::StrFormat(
          "guardrail: %.1f %% of the candidate's refunds were marked abusive "
          "(%d of %d), above its ceiling of %g %%",
          percent, candidate.abuse, candidate.refunds,
          guardrails.max_abuse_percent());
    }
  }
  return std::nullopt;
}

makegood::v1::ExperimentArm ArmToProto(
    const std::string& arm, const std::string& policy_version,
    const ArmTally& tally, int64_t day,
    const std::vector<makegood::v1::RetentionWindow>& retention) {
  makegood::v1::ExperimentArm out;
  out.set_arm(arm);
  out.set_policy_version(policy_version);
  out.set_ratings(tally.ratings);
  out.set_instant(tally.instant);
  out.set_refunds(tally.refunds);
  out.set_abuse_corrections(tally.abuse);
  if (tally.ratings > 0) {
    out.set_instant_share(static_cast<double>(tally.instant) /
                          static_cast<double>(tally.ratings));
  }
  if (tally.refunds > 0) {
    out.set_abuse_percent(100.0 * static_cast<double>(tally.abuse) /
                          static_cast<double>(tally.refunds));
  }
  for (const auto& [currency, minor] : tally.granted_minor) {
    (*out.mutable_granted_minor())[currency] = minor;
    if (tally.ratings > 0) {
      (*out.mutable_granted_minor_per_rating())[currency] =
          static_cast<double>(minor) / static_cast<double>(tally.ratings);
    }
  }
  if (auto today = tally.days.find(day); today != tally.days.end()) {
    for (const auto& [currency, minor] : today->second) {
      (*out.mutable_granted_today_minor())[currency] = minor;
    }
  }
  for (const makegood::v1::RetentionWindow& window : retention) {
    *out.add_retention() = window;
  }
  return out;
}

void Judge(const makegood::v1::ExperimentGuardrails& guardrails,
           makegood::v1::GetExperimentResponse& response) {
  const makegood::v1::RetentionWindow* control = Month(response.control());
  const makegood::v1::RetentionWindow* candidate = Month(response.candidate());
  const int64_t needed =
      std::max<int64_t>(1, guardrails.min_troubles_per_arm());
  const int64_t have_control = control ? control->troubles() : 0;
  const int64_t have_candidate = candidate ? candidate->troubles() : 0;
  if (have_control < needed || have_candidate < needed) {
    response.set_verdict(makegood::v1::EXPERIMENT_VERDICT_NOT_ENOUGH_DATA);
    response.set_verdict_text(absl::StrCat(
        "Not enough data yet: a verdict needs ", needed,
        " troubles with a closed 30-day window in each arm; the control has ",
        have_control, " and the candidate ", have_candidate, "."));
    return;
  }
  // Newcombe's hybrid score interval of p1 - p0 from the Wilson intervals.
  const double p1 = candidate->reorder_rate();
  const double p0 = control->reorder_rate();
  const double d = p1 - p0;
  const double low = d - std::hypot(p1 - candidate->reorder_rate_low(),
                                    control->reorder_rate_high() - p0);
  const double high = d + std::hypot(candidate->reorder_rate_high() - p1,
                                     p0 - control->reorder_rate_low());
  response.set_reorder_rate_difference(d);
  response.set_reorder_rate_difference_low(low);
  response.set_reorder_rate_difference_high(high);
  std::string lead;
  if (low > 0) {
    response.set_verdict(
        makegood::v1::EXPERIMENT_VERDICT_CANDIDATE_RETAINS_MORE);
    lead = "The candidate keeps more members";
  } else if (high < 0) {
    response.set_verdict(
        makegood::v1::EXPERIMENT_VERDICT_CANDIDATE_RETAINS_LESS);
    lead = "The candidate keeps fewer members";
  } else {
    response.set_verdict(makegood::v1::EXPERIMENT_VERDICT_NO_CLEAR_DIFFERENCE);
    lead = "No clear difference in keeping members yet";
  }
  response.set_verdict_text(absl::StrCat(
      lead, ": ", Percent(p1),
      " reordered within 30 days of a trouble against ", Percent(p0),
      " (difference ", Points(d), " points, 95 % interval ", Points(low),
      " to ", Points(high), "; ", candidate->troubles(), " and ",
      control->troubles(), " troubles), ",
      Cost(response.candidate(), response.control()), "."));
}

}  // namespace makegood::experiments
