// makegood_policy: check and try policy files before they go live.
//
//   makegood_policy validate FILE
//       Parses and validates FILE. Prints "FILE: valid (<version>)" and exits
//       0, or prints each problem as "FILE: <field>: <what>" (or the line and
//       column of a syntax error) and exits 1.
//
//   makegood_policy simulate --policy=FILE --cases=FILE [--against=FILE]
//       Decides each makegood.v1.SimulationCase in the cases file (JSON lines
//       or a textproto makegood.v1.SimulationCases) under the policy, and
//       under the --against policy if given, and prints the outcome mix, the
//       money and the cases decided differently. Exits 0 when every case was
//       decided, 1 when a policy is invalid or a case could not be decided.
//
//   makegood_policy retention-chart --out=FILE.svg
//       (--target=HOST:PORT [--metadata=KEY=VALUE,...] [--group_by=DIM,...]
//        [--filter=DIM=VALUE,...] | --from_json=FILE) [--window=7|30|90]
//       Draws the retention headline chart (services/retention_chart): the
//       reorder rate within --window days (default 30) of a trouble, one
//       group per value of the first --group_by dimension, one bar per value
//       of the second, with 95 % intervals. The figures come from
//       InsightsService.GetRetentionStats of the plaintext makegood at
//       --target, called with the --metadata (e.g.
//       "authorization=Bearer ..." or "x-api-key=..."), --group_by (the
//       RetentionDimension names without RETENTION_DIMENSION_; default
//       OUTCOME,ARM) and --filter; or from --from_json, a
//       GetRetentionStatsResponse in the protobuf JSON mapping. Prints what
//       it wrote and exits 0, or prints why not and exits 1.
//
// Exit code 2: usage error.
#include <algorithm>
#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "google/protobuf/util/json_util.h"
#include "makegood/v1/insights_service.pb.h"
#include "makegood/v1/policy_service.pb.h"
#include "services/core/clock.h"
#include "services/core/status_macros.h"
#include "services/core/text.h"
#include "services/policy/money.h"
#include "services/policy_cli/retention_client.h"
#include "services/policy_file/policy_document.h"
#include "services/policy_simulation/simulation.h"
#include "services/retention_chart/chart_data.h"
#include "services/retention_chart/retention_chart.h"

namespace makegood::policy_cli {
namespace {

namespace v1 = ::makegood::v1;
using policy_file::PolicySnapshot;

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;

constexpr char kUsageText[] =
    "usage:\n"
    "  makegood_policy validate FILE\n"
    "  makegood_policy simulate --policy=FILE --cases=FILE [--against=FILE]\n"
    "  makegood_policy retention-chart --out=FILE.svg [--window=7|30|90]\n"
    "      (--target=HOST:PORT [--metadata=KEY=VALUE,...]\n"
    "       [--group_by=OUTCOME,ARM] [--filter=DIMENSION=VALUE,...]\n"
    "       | --from_json=FILE)\n";

int Usage(absl::string_view problem) {
  std::cerr << "makegood_policy: " << problem << "\n" << kUsageText;
  return kUsage;
}

// A command's "--name=value" arguments by name.
using Flags = std::map<std::string, std::string>;

// INVALID_ARGUMENT for an argument that is not "--name=value" with a name
// in `known`, or a flag given twice.
absl::StatusOr<Flags> ParseFlags(
    absl::Span<const std::string> args,
    std::initializer_list<absl::string_view> known) {
  Flags flags;
  for (const std::string& arg : args) {
    const size_t equals = arg.find('=');
    const std::string name =
        absl::StartsWith(arg, "--") && equals != std::string::npos
            ? arg.substr(2, equals - 2)
            : "";
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown argument \"", arg, "\""));
    }
    if (!flags.emplace(name, arg.substr(equals + 1)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " is given twice"));
    }
  }
  return flags;
}

std::optional<std::string> Flag(const Flags& flags, const std::string& name) {
  auto it = flags.find(name);
  if (it == flags.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot be read"));
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int Validate(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    std::cout << text.status().message() << "\n";
    return kFailed;
  }
  absl::StatusOr<v1::Policy> policy = policy_file::ParsePolicyText(*text);
  if (!policy.ok()) {
    std::cout << path << ": " << policy.status().message() << "\n";
    return kFailed;
  }
  const std::vector<policy_file::PolicyViolation> violations =
      policy_file::ValidatePolicy(*policy);
  if (violations.empty()) {
    std::cout << path << ": valid (" << policy_file::PolicyVersion(*policy)
              << ")\n";
    return kOk;
  }
  for (const policy_file::PolicyViolation& v : violations) {
    std::cout << path << ": " << v.field << ": " << v.description << "\n";
  }
  std::cout << path << ": " << violations.size() << " problem"
            << (violations.size() == 1 ? "" : "s") << "\n";
  return kFailed;
}

// "6.00 EUR, 1.50 USD" for a per-currency map; "0" when empty.
std::string Money(const google::protobuf::Map<std::string, int64_t>& amounts) {
  const std::map<std::string, int64_t> sorted(amounts.begin(), amounts.end());
  std::vector<std::string> parts;
  for (const auto& [currency, amount] : sorted) {
    parts.push_back(policy::FormatMoney(amount, currency));
  }
  return parts.empty() ? "0" : absl::StrJoin(parts, ", ");
}

// One line about what a decision does, e.g. "OUTCOME_MANUAL_REVIEW: 2.00 EUR
// now (INSTRUMENT_ORIGINAL_PAYMENT), 4.00 EUR reviewed [codes]".
std::string Describe(const v1::Decision& d, const std::string& currency) {
  std::string out = v1::Outcome_Name(d.outcome());
  if (d.has_refund()) {
    absl::StrAppend(
        &out, ": ", policy::FormatMoney(d.refund().amount_minor(), currency),
        " now (", v1::Instrument_Name(d.refund().instrument()), ")");
  }
  if (d.review_amount_minor() > 0) {
    absl::StrAppend(&out, d.has_refund() ? ", " : ": ",
                    policy::FormatMoney(d.review_amount_minor(), currency),
                    " reviewed");
  }
  absl::StrAppend(&out, " [", absl::StrJoin(d.reason_codes(), ", "), "]");
  return out;
}

void PrintSummary(const v1::SimulatePolicyResponse& r, bool with_baseline) {
  std::set<std::string> outcomes;
  for (const auto& [name, n] : r.candidate().outcomes()) outcomes.insert(name);
  for (const auto& [name, n] : r.active().outcomes()) outcomes.insert(name);
  const auto count = [](const v1::SimulationSummary& s,
                        const std::string& name) -> int64_t {
    auto it = s.outcomes().find(name);
    return it == s.outcomes().end() ? 0 : it->second;
  };
  const auto row = [&](absl::string_view label, const std::string& candidate,
                       const std::string& baseline) {
    std::cout << absl::StrFormat("  %-26s %-24s", label, candidate);
    if (with_baseline) std::cout << absl::StrFormat(" %s", baseline);
    std::cout << "\n";
  };
  row("", "policy", with_baseline ? "against" : "");
  row("version", r.candidate().policy_version(), r.active().policy_version());
  for (const std::string& name : outcomes) {
    row(name, absl::StrCat(count(r.candidate(), name)),
        absl::StrCat(count(r.active(), name)));
  }
  row("refunded or credited", Money(r.candidate().refunded_minor()),
      Money(r.active().refunded_minor()));
  row("under review or evidence", Money(r.candidate().review_minor()),
      Money(r.active().review_minor()));
}

absl::StatusOr<PolicySnapshot> LoadPolicy(const std::string& path) {
  return policy_file::LoadPolicyFile(path, RealClock().Now());
}

int Simulate(const std::string& policy_path, const std::string& cases_path,
             const std::optional<std::string>& against_path) {
  absl::StatusOr<PolicySnapshot> candidate = LoadPolicy(policy_path);
  if (!candidate.ok()) {
    std::cout << candidate.status().message() << "\n";
    return kFailed;
  }
  std::optional<PolicySnapshot> baseline;
  if (against_path.has_value()) {
    absl::StatusOr<PolicySnapshot> loaded = LoadPolicy(*against_path);
    if (!loaded.ok()) {
      std::cout << loaded.status().message() << "\n";
      return kFailed;
    }
    baseline = *std::move(loaded);
  }
  absl::StatusOr<std::string> text = ReadFile(cases_path);
  if (!text.ok()) {
    std::cout << text.status().message() << "\n";
    return kFailed;
  }
  absl::StatusOr<std::vector<v1::SimulationCase>> cases =
      policy_simulation::ParseSimulationCases(*text);
  if (!cases.ok()) {
    std::cout << cases_path << ": " << cases.status().message() << "\n";
    return kFailed;
  }
  const policy_simulation::SimulationResult result =
      policy_simulation::Simulate(
          *candidate->engine,
          baseline.has_value() ? baseline->engine.get() : nullptr, *cases);
  const v1::SimulatePolicyResponse& r = result.response;

  std::cout << "cases: " << cases->size() << " read, " << r.cases_evaluated()
            << " decided, " << result.errors.size() << " failed\n";
  PrintSummary(r, baseline.has_value());
  if (baseline.has_value()) {
    // Each case is decided in its order's currency.
    std::map<std::string, std::string> currency_of;
    for (const v1::SimulationCase& c : *cases) {
      currency_of.emplace(c.case_id(), c.order().currency());
    }
    std::cout << "differences: " << r.differences_size() << "\n";
    for (const v1::CaseDifference& d : r.differences()) {
      const std::string& currency = currency_of[d.case_id()];
      std::cout << "  case " << d.case_id() << "\n"
                << "    against: " << Describe(d.active(), currency) << "\n"
                << "    policy:  " << Describe(d.candidate(), currency) << "\n";
    }
  }
  for (const policy_simulation::CaseError& e : result.errors) {
    std::cout << "error: case " << e.index + 1
              << (e.case_id.empty() ? "" : absl::StrCat(" (", e.case_id, ")"))
              << ": " << e.status.message() << "\n";
  }
  return result.errors.empty() ? kOk : kFailed;
}

int RunSimulate(absl::Span<const std::string> args) {
  absl::StatusOr<Flags> flags =
      ParseFlags(args, {"policy", "cases", "against"});
  if (!flags.ok()) return Usage(flags.status().message());
  const std::optional<std::string> policy = Flag(*flags, "policy");
  const std::optional<std::string> cases = Flag(*flags, "cases");
  const std::optional<std::string> against = Flag(*flags, "against");
  if (!policy.has_value() || policy->empty())
    return Usage("--policy is required");
  if (!cases.has_value() || cases->empty()) return Usage("--cases is required");
  return Simulate(*policy, *cases, against);
}

// What retention-chart was asked to do, from its flags.
struct RetentionChartJob {
  // Exactly one of the two: the server to ask, or the response file.
  std::optional<std::string> target;
  std::optional<std::string> from_json;
  Metadata metadata;
  v1::GetRetentionStatsRequest request;
  retention_chart::ChartOptions chart;
  std::string out;
};

constexpr absl::Duration kRetentionStatsTimeout = absl::Seconds(30);
constexpr char kDefaultGroupBy[] = "OUTCOME,ARM";

// "ARM" or "arm" -> RETENTION_DIMENSION_ARM.
absl::StatusOr<v1::RetentionDimension> ParseDimension(absl::string_view flag,
                                                      absl::string_view name) {
  v1::RetentionDimension dimension;
  if (!v1::RetentionDimension_Parse(
          absl::StrCat("RETENTION_DIMENSION_", absl::AsciiStrToUpper(name)),
          &dimension) ||
      dimension == v1::RETENTION_DIMENSION_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", flag, ": \"", name,
        "\" is not a dimension (OUTCOME, RECOVERY, INSTRUMENT, AMOUNT_BAND, "
        "TIME_TO_SUCCEEDED, POLICY_VERSION, ARM, TIER, CURRENCY)"));
  }
  return dimension;
}

absl::Status ParseGroupBy(absl::string_view text,
                          v1::GetRetentionStatsRequest& request) {
  for (absl::string_view name : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    MAKEGOOD_ASSIGN_OR_RETURN(v1::RetentionDimension dimension,
                              ParseDimension("group_by", name));
    request.add_group_by(dimension);
  }
  return absl::OkStatus();
}

// "OUTCOME=REFUND,CURRENCY=EUR"; also writes "only outcome = REFUND,
// currency = EUR" into `note` for the chart.
absl::Status ParseFilters(absl::string_view text,
                          v1::GetRetentionStatsRequest& request,
                          std::string& note) {
  std::vector<std::string> described;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    const std::pair<absl::string_view, absl::string_view> pair =
        absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (pair.second.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--filter: \"", item, "\" is not DIMENSION=VALUE"));
    }
    MAKEGOOD_ASSIGN_OR_RETURN(v1::RetentionDimension dimension,
                              ParseDimension("filter", pair.first));
    v1::RetentionFilter& filter = *request.add_filters();
    filter.set_dimension(dimension);
    filter.set_value(std::string(pair.second));
    described.push_back(absl::StrCat(retention_chart::DimensionWords(dimension),
                                     " = ", pair.second));
  }
  if (!described.empty()) note = "only " + absl::StrJoin(described, ", ");
  return absl::OkStatus();
}

// gRPC metadata keys: lower-case letters, digits, '-', '_' and '.'.
bool IsMetadataKey(absl::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' ||
           c == '_' || c == '.';
  });
}

absl::StatusOr<Metadata> ParseMetadata(absl::string_view text) {
  Metadata metadata;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> pair =
        absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (!IsMetadataKey(pair.first) || !IsPrintableAscii(pair.second, 1, 8192)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--metadata: \"", pair.first,
          "\" wants KEY=VALUE, the key in lower case, the value printable"));
    }
    metadata.push_back(std::move(pair));
  }
  return metadata;
}

absl::StatusOr<int> ParseWindow(const std::optional<std::string>& text) {
  int days = 30;
  if (text.has_value() && (!absl::SimpleAtoi(*text, &days) ||
                           (days != 7 && days != 30 && days != 90))) {
    return absl::InvalidArgumentError("--window: want 7, 30 or 90");
  }
  return days;
}

// The --target side: the server, its metadata and what to ask it.
absl::Status ParseTargetFlags(const Flags& flags, RetentionChartJob& job) {
  if (job.target->empty()) {
    return absl::InvalidArgumentError("--target: want HOST:PORT");
  }
  MAKEGOOD_ASSIGN_OR_RETURN(
      job.metadata, ParseMetadata(Flag(flags, "metadata").value_or("")));
  MAKEGOOD_RETURN_IF_ERROR(ParseGroupBy(
      Flag(flags, "group_by").value_or(kDefaultGroupBy), job.request));
  return ParseFilters(Flag(flags, "filter").value_or(""), job.request,
                      job.chart.note);
}

absl::StatusOr<RetentionChartJob> ParseRetentionChart(const Flags& flags) {
  RetentionChartJob job;
  job.target = Flag(flags, "target");
  job.from_json = Flag(flags, "from_json");
  job.out = Flag(flags, "out").value_or("");
  if (job.out.empty()) return absl::InvalidArgumentError("--out is required");
  MAKEGOOD_ASSIGN_OR_RETURN(job.chart.window_days,
                            ParseWindow(Flag(flags, "window")));
  if (job.target.has_value() == job.from_json.has_value()) {
    return absl::InvalidArgumentError(
        "give either --target (ask a server) or --from_json (a saved "
        "response)");
  }
  if (job.target.has_value()) {
    MAKEGOOD_RETURN_IF_ERROR(ParseTargetFlags(flags, job));
  } else if (job.from_json->empty()) {
    return absl::InvalidArgumentError("--from_json: want a FILE");
  } else {
    for (const char* flag : {"metadata", "group_by", "filter"}) {
      if (flags.contains(flag)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", flag, " goes with --target, not --from_json"));
      }
    }
  }
  return job;
}

absl::StatusOr<v1::GetRetentionStatsResponse> ReadResponseJson(
    const std::string& path) {
  MAKEGOOD_ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  v1::GetRetentionStatsResponse response;
  const auto status =
      google::protobuf::util::JsonStringToMessage(text, &response);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path,
        ": not a GetRetentionStatsResponse: ", std::string(status.message())));
  }
  return response;
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    return absl::UnavailableError(absl::StrCat(path, ": cannot be written"));
  }
  return absl::OkStatus();
}

int DrawRetentionChart(const RetentionChartJob& job) {
  absl::StatusOr<v1::GetRetentionStatsResponse> response =
      job.target.has_value()
          ? FetchRetentionStats(*job.target, job.metadata, job.request,
                                kRetentionStatsTimeout)
          : ReadResponseJson(*job.from_json);
  if (!response.ok()) {
    std::cout << response.status().message() << "\n";
    return kFailed;
  }
  const std::string source = job.target.value_or(job.from_json.value_or(""));
  absl::StatusOr<std::string> svg =
      retention_chart::RenderRetentionChart(*response, job.chart);
  if (!svg.ok()) {
    std::cout << source << ": " << svg.status().message() << "\n";
    return kFailed;
  }
  if (absl::Status written = WriteFile(job.out, *svg); !written.ok()) {
    std::cout << written.message() << "\n";
    return kFailed;
  }
  std::cout << "wrote " << job.out << ": " << job.chart.window_days
            << "-day reorder rate of " << response->cohorts_size() << " cohort"
            << (response->cohorts_size() == 1 ? "" : "s") << " from " << source
            << "\n";
  return kOk;
}

int RunRetentionChart(absl::Span<const std::string> args) {
  absl::StatusOr<Flags> flags =
      ParseFlags(args, {"target", "metadata", "group_by", "filter", "window",
                        "out", "from_json"});
  if (!flags.ok()) return Usage(flags.status().message());
  absl::StatusOr<RetentionChartJob> job = ParseRetentionChart(*flags);
  if (!job.ok()) return Usage(job.status().message());
  return DrawRetentionChart(*job);
}

int Run(const std::vector<std::string>& args) {
  if (args.empty()) return Usage("missing command");
  const absl::Span<const std::string> rest =
      absl::MakeConstSpan(args).subspan(1);
  if (args[0] == "validate") {
    if (rest.size() != 1) return Usage("validate takes exactly one FILE");
    return Validate(rest[0]);
  }
  if (args[0] == "simulate") return RunSimulate(rest);
  if (args[0] == "retention-chart") return RunRetentionChart(rest);
  return Usage(absl::StrCat("unknown command \"", args[0], "\""));
}

}  // namespace
}  // namespace makegood::policy_cli

int main(int argc, char** argv) {
  return makegood::policy_cli::Run(
      std::vector<std::string>(argv + 1, argv + argc));
}
