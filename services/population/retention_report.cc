#include "services/population/retention_report.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace makegood::population {
namespace {

// The label values after the currency, as the table and the JSON name a
// cohort ("REFUND", or "exp:arm-b / REFUND").
std::string CohortName(const std::vector<std::string>& labels) {
  if (labels.size() <= 1) return "all";
  return absl::StrJoin(labels.begin() + 1, labels.end(), " / ");
}

std::string DimensionName(v1::RetentionDimension dimension) {
  std::string name = v1::RetentionDimension_Name(dimension);
  constexpr std::string_view kPrefix = "RETENTION_DIMENSION_";
  if (name.rfind(kPrefix, 0) == 0) name = name.substr(kPrefix.size());
  absl::AsciiStrToLower(&name);
  return name;
}

void AddMoney(std::map<std::string, int64_t>& to, const std::string& currency,
              int64_t minor) {
  if (minor == 0) return;
  if ((to[currency] += minor) == 0) to.erase(currency);
}

std::string Rate(int64_t part, int64_t total) {
  if (total == 0) return "-";
  return absl::StrFormat("%.1f %%", 100.0 * static_cast<double>(part) /
                                        static_cast<double>(total));
}

std::string Interval(const WindowCounts& served) {
  if (served.troubles == 0) return "";
  const retention::Interval i =
      retention::Wilson95(served.reordered, served.troubles);
  return absl::StrFormat("(%.1f-%.1f)", 100 * i.low, 100 * i.high);
}

bool SameCounts(const WindowCounts& a, const WindowCounts& b) {
  return a.troubles == b.troubles && a.reordered == b.reordered &&
         a.spend_minor == b.spend_minor;
}

std::string Money(const std::map<std::string, int64_t>& money) {
  if (money.empty()) return "0";
  std::vector<std::string> parts;
  for (const auto& [currency, minor] : money) {
    parts.push_back(absl::StrCat(minor, " ", currency));
  }
  return absl::StrJoin(parts, " + ");
}

int64_t MoneyIn(const std::map<std::string, int64_t>& money,
                const std::string& currency) {
  auto it = money.find(currency);
  return it == money.end() ? 0 : it->second;
}

}  // namespace

std::vector<RetentionGrouping> DefaultRetentionGroupings() {
  return {{.name = "outcome",
           .group_by = {v1::RETENTION_DIMENSION_CURRENCY,
                        v1::RETENTION_DIMENSION_OUTCOME}},
          {.name = "recovery",
           .group_by = {v1::RETENTION_DIMENSION_CURRENCY,
                        v1::RETENTION_DIMENSION_RECOVERY}}};
}

v1::GetRetentionStatsRequest RequestOf(const RetentionGrouping& grouping) {
  v1::GetRetentionStatsRequest request;
  for (v1::RetentionDimension dimension : grouping.group_by) {
    request.add_group_by(dimension);
  }
  return request;
}

std::string LabelOf(const retention::Trouble& trouble,
                    v1::RetentionDimension dimension) {
  switch (dimension) {
    case v1::RETENTION_DIMENSION_OUTCOME:
      return trouble.outcome;
    case v1::RETENTION_DIMENSION_RECOVERY:
      return trouble.recovery;
    case v1::RETENTION_DIMENSION_INSTRUMENT:
      return trouble.instrument;
    case v1::RETENTION_DIMENSION_AMOUNT_BAND:
      return trouble.amount_band;
    case v1::RETENTION_DIMENSION_POLICY_VERSION:
      return trouble.policy_version;
    case v1::RETENTION_DIMENSION_ARM:
      return trouble.arm;
    case v1::RETENTION_DIMENSION_TIER:
      return trouble.tier;
    case v1::RETENTION_DIMENSION_CURRENCY:
      return trouble.currency;
    default:
      return "";
  }
}

Cohorts SimulatedCohorts(const std::vector<SimTrouble>& troubles,
                         const RetentionGrouping& grouping) {
  Cohorts cohorts;
  for (const SimTrouble& t : troubles) {
    std::vector<std::string> labels;
    for (v1::RetentionDimension dimension : grouping.group_by) {
      labels.push_back(LabelOf(t.trouble, dimension));
    }
    CohortCounts& cohort = cohorts[labels];
    cohort.probability_sum += t.probability;
    for (size_t w = 0; w < kWindows; ++w) {
      WindowCounts& window = cohort.windows[w];
      ++window.troubles;
      if (t.reordered[w]) ++window.reordered;
      AddMoney(window.spend_minor, t.trouble.currency, t.spend_minor[w]);
    }
  }
  return cohorts;
}

Cohorts ServedCohorts(const v1::GetRetentionStatsResponse& before,
                      const v1::GetRetentionStatsResponse& after) {
  Cohorts cohorts;
  auto add = [&cohorts](const v1::GetRetentionStatsResponse& response,
                        int64_t sign) {
    for (const v1::RetentionCohort& cohort : response.cohorts()) {
      std::vector<std::string> labels;
      for (const v1::RetentionLabel& label : cohort.labels()) {
        labels.push_back(label.value());
      }
      CohortCounts& counts = cohorts[labels];
      for (const v1::RetentionWindow& window : cohort.windows()) {
        const auto* at = std::find(retention::kWindowDays.begin(),
                                   retention::kWindowDays.end(), window.days());
        if (at == retention::kWindowDays.end()) continue;
        WindowCounts& to = counts.windows[at - retention::kWindowDays.begin()];
        to.troubles += sign * window.troubles();
        to.reordered += sign * window.reordered();
        for (const auto& [currency, minor] : window.spend_minor()) {
          AddMoney(to.spend_minor, currency, sign * minor);
        }
        for (const auto& [currency, minor] : window.paid_minor()) {
          AddMoney(to.paid_minor, currency, sign * minor);
        }
      }
    }
  };
  add(after, 1);
  add(before, -1);
  for (auto it = cohorts.begin(); it != cohorts.end();) {
    const bool empty =
        std::all_of(it->second.windows.begin(), it->second.windows.end(),
                    [](const WindowCounts& w) {
                      return w.troubles == 0 && w.reordered == 0 &&
                             w.spend_minor.empty() && w.paid_minor.empty();
                    });
    it = empty ? cohorts.erase(it) : std::next(it);
  }
  return cohorts;
}

void RetentionReport::AddTroubles(const std::vector<SimTrouble>& troubles) {
  troubles_.insert(troubles_.end(), troubles.begin(), troubles.end());
}

void RetentionReport::SetServed(const std::string& name, Cohorts served) {
  served_[name] = std::move(served);
}

std::vector<RetentionReport::Row> RetentionReport::Rows(
    const RetentionGrouping& grouping) const {
  const Cohorts simulated = SimulatedCohorts(troubles_, grouping);
  auto served = served_.find(grouping.name);
  const bool read = served != served_.end();
  std::set<std::vector<std::string>> keys;
  for (const auto& [labels, counts] : simulated) keys.insert(labels);
  if (read) {
    for (const auto& [labels, counts] : served->second) keys.insert(labels);
  }
  std::vector<Row> rows;
  for (const std::vector<std::string>& labels : keys) {
    Row row;
    row.labels = labels;
    row.read = read;
    if (auto s = simulated.find(labels); s != simulated.end()) {
      row.simulated = s->second;
    }
    if (read) {
      if (auto v = served->second.find(labels); v != served->second.end()) {
        row.served = v->second;
      }
    }
    row.same = read;
    for (size_t w = 0; w < kWindows; ++w) {
      row.same = row.same &&
                 SameCounts(row.simulated.windows[w], row.served.windows[w]);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<std::string> RetentionReport::Mismatches() const {
  std::vector<std::string> out = problems_;
  for (const RetentionGrouping& grouping : groupings_) {
    if (!served_.contains(grouping.name)) {
      out.push_back(absl::StrCat("by ", grouping.name, ": not read"));
      continue;
    }
    for (const Row& row : Rows(grouping)) {
      for (size_t w = 0; w < kWindows; ++w) {
        const WindowCounts& a = row.simulated.windows[w];
        const WindowCounts& b = row.served.windows[w];
        if (SameCounts(a, b)) continue;
        out.push_back(absl::StrFormat(
            "by %s %s %d days: served %d of %d reordered (spend %s), "
            "simulated %d of %d (spend %s)",
            grouping.name, absl::StrJoin(row.labels, "/"),
            retention::kWindowDays[w], b.reordered, b.troubles,
            Money(b.spend_minor), a.reordered, a.troubles,
            Money(a.spend_minor)));
      }
    }
  }
  return out;
}

std::string RetentionReport::Table() const {
  std::set<std::string> currencies;
  for (const SimTrouble& t : troubles_) currencies.insert(t.trouble.currency);
  for (const auto& [name, cohorts] : served_) {
    for (const auto& [labels, counts] : cohorts) {
      if (!labels.empty()) currencies.insert(labels.front());
    }
  }
  std::string out;
  for (const std::string& currency : currencies) {
    absl::StrAppendFormat(&out,
                          "== %s  retention after trouble (retention day %s; "
                          "reorder rates simulated, intervals and = from "
                          "GetRetentionStats) ==\n",
                          currency, absl::FormatDuration(day_));
    for (const RetentionGrouping& grouping : groupings_) {
      if (grouping.group_by.empty()) continue;  // No currency to show it by.
      std::string header = absl::StrFormat(
          "%-20s %8s %9s",
          absl::StrJoin(grouping.group_by.begin() + 1, grouping.group_by.end(),
                        " / ",
                        [](std::string* o, v1::RetentionDimension d) {
                          o->append(DimensionName(d));
                        }),
          "troubles", "model 90d");
      for (int days : retention::kWindowDays) {
        absl::StrAppendFormat(&header, "  %-21s", absl::StrCat(days, " days"));
      }
      out += header + "  server\n";
      for (const Row& row : Rows(grouping)) {
        if (row.labels.empty() || row.labels.front() != currency) continue;
        const CohortCounts& sim = row.simulated;
        const int64_t n = sim.windows[0].troubles;
        absl::StrAppendFormat(
            &out, "%-20s %8d %9s", CohortName(row.labels), n,
            n == 0 ? "-"
                   : absl::StrFormat("%.1f %%", 100 * sim.probability_sum /
                                                    static_cast<double>(n)));
        for (size_t w = 0; w < kWindows; ++w) {
          const WindowCounts& a = sim.windows[w];
          absl::StrAppendFormat(&out, "  %-21s",
                                absl::StrCat(Rate(a.reordered, a.troubles), " ",
                                             Interval(row.served.windows[w])));
        }
        absl::StrAppend(&out, "  ",
                        !row.read  ? "?"
                        : row.same ? "="
                                   : "MISMATCH",
                        "\n");
      }
      out += "\n";
    }
  }
  const std::vector<std::string> mismatches = Mismatches();
  if (mismatches.empty()) {
    absl::StrAppendFormat(
        &out,
        "retention: the server counted what the members did: %d troubles, "
        "every cohort and window equal in troubles, reorders and spend\n",
        troubles_.size());
  } else {
    absl::StrAppendFormat(&out, "RETENTION MISMATCH (%d):\n",
                          mismatches.size());
    for (const std::string& line : mismatches) {
      absl::StrAppend(&out, "  ", line, "\n");
    }
  }
  absl::StrAppendFormat(&out, "retention: %d reorders placed",
                        timing_.reorders);
  if (timing_.reorders > 0) {
    absl::StrAppendFormat(&out,
                          "; the tightest was recorded %s before its window "
                          "closed",
                          absl::FormatDuration(timing_.tightest));
  }
  if (timing_.late > 0) {
    absl::StrAppendFormat(&out,
                          "; %d too late to count for sure (a longer "
                          "--retention_day, or a less loaded machine)",
                          timing_.late);
  }
  out += "\n";
  return out;
}

std::string RetentionReport::Json() const {
  nlohmann::json currencies = nlohmann::json::object();
  for (const RetentionGrouping& grouping : groupings_) {
    for (const Row& row : Rows(grouping)) {
      if (row.labels.empty()) continue;
      const std::string& currency = row.labels.front();
      const int64_t n = row.simulated.windows[0].troubles;
      nlohmann::json windows = nlohmann::json::object();
      for (size_t w = 0; w < kWindows; ++w) {
        const WindowCounts& a = row.simulated.windows[w];
        const WindowCounts& b = row.served.windows[w];
        const retention::Interval interval =
            retention::Wilson95(b.reordered, b.troubles);
        windows[absl::StrCat(retention::kWindowDays[w])] = {
            {"simulated",
             {{"troubles", a.troubles},
              {"reordered", a.reordered},
              {"spend_minor", MoneyIn(a.spend_minor, currency)}}},
            {"served",
             {{"troubles", b.troubles},
              {"reordered", b.reordered},
              {"rate", b.troubles == 0
                           ? nlohmann::json(nullptr)
                           : nlohmann::json(static_cast<double>(b.reordered) /
                                            static_cast<double>(b.troubles))},
              {"low", interval.low},
              {"high", interval.high},
              {"spend_minor", MoneyIn(b.spend_minor, currency)},
              {"paid_minor", MoneyIn(b.paid_minor, currency)}}}};
      }
      currencies[currency][grouping.name][CohortName(row.labels)] = {
          {"troubles", n},
          {"model_90d", n == 0 ? nlohmann::json(nullptr)
                               : nlohmann::json(row.simulated.probability_sum /
                                                static_cast<double>(n))},
          {"windows", windows},
          {"match", row.same}};
    }
  }
  const std::vector<std::string> mismatches = Mismatches();
  nlohmann::json timing = {{"reorders", timing_.reorders},
                           {"late", timing_.late}};
  timing["tightest_ms"] =
      timing_.reorders == 0
          ? nlohmann::json(nullptr)
          : nlohmann::json(absl::ToInt64Milliseconds(timing_.tightest));
  nlohmann::json out = {{"day_ms", absl::ToInt64Milliseconds(day_)},
                        {"troubles", troubles_.size()},
                        {"match", mismatches.empty()},
                        {"mismatches", mismatches},
                        {"timing", timing},
                        {"currencies", currencies}};
  return out.dump();
}

}  // namespace makegood::population
