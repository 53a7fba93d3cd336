#include "services/population/report.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "services/population/claim.h"

namespace makegood::population {
namespace {

std::string OutcomeName(v1::Outcome outcome) {
  std::string name = v1::Outcome_Name(outcome);
  constexpr std::string_view kPrefix = "OUTCOME_";
  if (name.rfind(kPrefix, 0) == 0) name = name.substr(kPrefix.size());
  return name.empty() ? absl::StrCat(static_cast<int>(outcome)) : name;
}

std::string GroupName(Group group) {
  switch (group) {
    case GROUP_HONEST_ESTABLISHED:
      return "honest_established";
    case GROUP_HONEST_NEW:
      return "honest_new";
    case GROUP_ABUSER:
      return "abuser";
    default:
      return "unspecified";
  }
}

std::string Percent(const Share& s) {
  if (s.total == 0) return "-";
  return absl::StrFormat("%.1f %%", 100.0 * s.share());
}

nlohmann::json ShareJson(const Share& s) {
  return {{"part", s.part},
          {"total", s.total},
          {"share",
           s.total == 0 ? nlohmann::json(nullptr) : nlohmann::json(s.share())}};
}

nlohmann::json HeadlineJson(const Headline& h) {
  return {{"honest_established_made_good",
           ShareJson(h.honest_established_made_good)},
          {"honest_new_made_good", ShareJson(h.honest_new_made_good)},
          {"abuser_money_paid", ShareJson(h.abuser_money_paid)},
          {"silence", ShareJson(h.silence)}};
}

// The goals of issue 13, deliverable 5.
nlohmann::json GoalsJson(const Headline& h) {
  auto met = [](const Share& s, bool ok) {
    return s.total == 0 ? nlohmann::json(nullptr) : nlohmann::json(ok);
  };
  return {{"honest_established_made_good",
           met(h.honest_established_made_good,
               h.honest_established_made_good.share() >= 0.97)},
          {"honest_new_made_good",
           met(h.honest_new_made_good, h.honest_new_made_good.share() >= 0.60)},
          {"abuser_money_paid",
           met(h.abuser_money_paid, h.abuser_money_paid.share() <= 0.05)},
          {"silence", met(h.silence, h.silence.part == 0)}};
}

std::string Outcomes(const std::map<std::string, int64_t>& outcomes) {
  std::vector<std::string> parts;
  for (const auto& [name, count] : outcomes) {
    parts.push_back(absl::StrCat(name, "=", count));
  }
  return parts.empty() ? "-" : absl::StrJoin(parts, " ");
}

}  // namespace

void SegmentTally::Add(const RatedResult& result) {
  ++ratings;
  const std::string outcome = OutcomeName(result.outcome);
  if (!result.claim) {
    ++other_outcomes[outcome];
    return;
  }
  ++claims;
  ++claim_outcomes[outcome];
  if (MadeGoodAtOnce(result.outcome)) {
    ++made_good;
  } else {
    for (const std::string& code : result.reason_codes) {
      ++not_made_good_reasons[code];
    }
  }
  if (result.outcome == v1::OUTCOME_NO_ACTION) ++no_action;
  claimed_minor += result.claimed_minor;
  paid_minor += result.paid_minor;
  if (result.paid_minor > 0) paid_by_outcome[outcome] += result.paid_minor;
  review_minor += result.review_minor;
}

void SegmentTally::Merge(const SegmentTally& other) {
  if (group == GROUP_UNSPECIFIED) group = other.group;
  members += other.members;
  ratings += other.ratings;
  claims += other.claims;
  made_good += other.made_good;
  no_action += other.no_action;
  claimed_minor += other.claimed_minor;
  paid_minor += other.paid_minor;
  review_minor += other.review_minor;
  for (const auto& [k, v] : other.claim_outcomes) claim_outcomes[k] += v;
  for (const auto& [k, v] : other.other_outcomes) other_outcomes[k] += v;
  for (const auto& [k, v] : other.paid_by_outcome) paid_by_outcome[k] += v;
  for (const auto& [k, v] : other.not_made_good_reasons) {
    not_made_good_reasons[k] += v;
  }
}

Headline HeadlineOf(const Tallies& tallies) {
  Headline h;
  for (const auto& [name, t] : tallies) {
    h.silence.part += t.no_action;
    h.silence.total += t.claims;
    switch (t.group) {
      case GROUP_HONEST_ESTABLISHED:
        h.honest_established_made_good.part += t.made_good;
        h.honest_established_made_good.total += t.claims;
        break;
      case GROUP_HONEST_NEW:
        h.honest_new_made_good.part += t.made_good;
        h.honest_new_made_good.total += t.claims;
        break;
      case GROUP_ABUSER:
        h.abuser_money_paid.part += t.paid_minor;
        h.abuser_money_paid.total += t.claimed_minor;
        break;
      default:
        break;
    }
  }
  return h;
}

void Report::AddRun(const std::string& currency, uint64_t seed,
                    Tallies tallies) {
  runs_[currency][seed] = std::move(tallies);
}

std::vector<std::string> Report::currencies() const {
  std::vector<std::string> out;
  for (const auto& [currency, runs] : runs_) out.push_back(currency);
  return out;
}

Tallies Report::Total(const std::string& currency) const {
  Tallies total;
  auto it = runs_.find(currency);
  if (it == runs_.end()) return total;
  for (const auto& [seed, tallies] : it->second) {
    for (const auto& [name, tally] : tallies) {
      // A named copy: clang 14 cannot capture a structured binding.
      const std::string& segment = name;
      auto at = std::find_if(total.begin(), total.end(),
                             [&](const auto& e) { return e.first == segment; });
      if (at == total.end()) {
        total.emplace_back(name, tally);
      } else {
        at->second.Merge(tally);
      }
    }
  }
  return total;
}

std::string Report::Table() const {
  std::string out;
  for (const auto& [currency, runs] : runs_) {
    absl::StrAppendFormat(&out, "== %s  (policy %s, seeds %s) ==\n", currency,
                          policy_version_, absl::StrJoin(seeds_, ","));
    std::vector<Headline> per_seed;
    std::string header = absl::StrFormat("%-38s", "");
    for (const auto& [seed, tallies] : runs) {
      per_seed.push_back(HeadlineOf(tallies));
      absl::StrAppendFormat(&header, " %9s", absl::StrCat("seed ", seed));
    }
    const Tallies total = Total(currency);
    const Headline all = HeadlineOf(total);
    absl::StrAppendFormat(&header, " %9s %20s  %s\n", "all", "(of)", "goal");
    out += header;
    struct Row {
      std::string label;
      Share Headline::*share;
      std::string goal;
    };
    const std::vector<Row> rows = {
        {"honest established: made good at once",
         &Headline::honest_established_made_good, ">= 97 %"},
        {"honest new: made good at once", &Headline::honest_new_made_good,
         ">= 60 %"},
        {"abusers: claimed money paid", &Headline::abuser_money_paid, "<= 5 %"},
        {"claims met with silence (NO_ACTION)", &Headline::silence, "0"},
    };
    for (const Row& row : rows) {
      absl::StrAppendFormat(&out, "%-38s", row.label);
      for (const Headline& h : per_seed) {
        absl::StrAppendFormat(&out, " %9s", Percent(h.*row.share));
      }
      const Share& s = all.*row.share;
      absl::StrAppendFormat(&out, " %9s %20s  %s\n", Percent(s),
                            absl::StrCat(s.part, "/", s.total), row.goal);
    }
    absl::StrAppendFormat(&out, "\n%-16s %-18s %7s %7s %6s %9s %9s %7s  %s\n",
                          "segment", "group", "members", "ratings", "claims",
                          "made_good", "no_action", "paid", "claim outcomes");
    for (const auto& [name, t] : total) {
      absl::StrAppendFormat(
          &out, "%-16s %-18s %7d %7d %6d %9s %9d %7s  %s\n", name,
          GroupName(t.group), t.members, t.ratings, t.claims,
          Percent({t.made_good, t.claims}), t.no_action,
          Percent({t.paid_minor, t.claimed_minor}), Outcomes(t.claim_outcomes));
    }
    for (const auto& [name, t] : total) {
      if (t.group == GROUP_ABUSER || t.not_made_good_reasons.empty()) continue;
      std::vector<std::pair<int64_t, std::string>> top;
      for (const auto& [code, n] : t.not_made_good_reasons) {
        top.emplace_back(-n, code);
      }
      std::sort(top.begin(), top.end());
      if (top.size() > 6) top.resize(6);
      std::vector<std::string> parts;
      for (const auto& [n, code] : top) {
        parts.push_back(absl::StrCat(code, "=", -n));
      }
      absl::StrAppendFormat(&out, "  %s not made good at once: %s\n", name,
                            absl::StrJoin(parts, " "));
    }
    out += "\n";
  }
  if (retention_.has_value()) out += retention_->Table() + "\n";
  if (experiment_.has_value()) out += experiment_->Table() + "\n";
  if (replayed_ > 0) {
    absl::StrAppendFormat(&out,
                          "NOTE: %d ratings were replays of an earlier run "
                          "(same ids): rerun with a new --prefix\n",
                          replayed_);
  }
  if (errors_ > 0) {
    absl::StrAppendFormat(&out, "ERRORS: %d calls failed; left out above\n",
                          errors_);
  }
  return out;
}

std::string Report::JsonLine() const {
  nlohmann::json currencies = nlohmann::json::object();
  for (const auto& [currency, runs] : runs_) {
    nlohmann::json per_seed = nlohmann::json::object();
    for (const auto& [seed, tallies] : runs) {
      per_seed[absl::StrCat(seed)] = HeadlineJson(HeadlineOf(tallies));
    }
    const Tallies total = Total(currency);
    nlohmann::json segments = nlohmann::json::object();
    for (const auto& [name, t] : total) {
      segments[name] = {{"group", GroupName(t.group)},
                        {"members", t.members},
                        {"ratings", t.ratings},
                        {"claims", t.claims},
                        {"made_good", t.made_good},
                        {"no_action", t.no_action},
                        {"claimed_minor", t.claimed_minor},
                        {"paid_minor", t.paid_minor},
                        {"paid_by_outcome", t.paid_by_outcome},
                        {"review_minor", t.review_minor},
                        {"claim_outcomes", t.claim_outcomes},
                        {"other_outcomes", t.other_outcomes},
                        {"not_made_good_reasons", t.not_made_good_reasons}};
    }
    const Headline all = HeadlineOf(total);
    currencies[currency] = {{"all", HeadlineJson(all)},
                            {"goals_met", GoalsJson(all)},
                            {"per_seed", per_seed},
                            {"segments", segments}};
  }
  nlohmann::json line = {{"policy_version", policy_version_},
                         {"seeds", seeds_},
                         {"errors", errors_},
                         {"replayed", replayed_},
                         {"currencies", currencies}};
  if (retention_.has_value()) {
    line["retention"] = nlohmann::json::parse(retention_->Json());
  }
  if (experiment_.has_value()) {
    line["experiment"] = nlohmann::json::parse(experiment_->Json());
  }
  return line.dump();
}

}  // namespace makegood::population
