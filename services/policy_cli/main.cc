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
// Exit code 2: usage error.
#include <cstdint>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "makegood/v1/policy_service.pb.h"
#include "services/core/clock.h"
#include "services/policy/money.h"
#include "services/policy_file/policy_document.h"
#include "services/policy_simulation/simulation.h"

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
    "  makegood_policy simulate --policy=FILE --cases=FILE [--against=FILE]\n";

int Usage(absl::string_view problem) {
  std::cerr << "makegood_policy: " << problem << "\n" << kUsageText;
  return kUsage;
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

int Run(const std::vector<std::string>& args) {
  if (args.empty()) return Usage("missing command");
  if (args[0] == "validate") {
    if (args.size() != 2) return Usage("validate takes exactly one FILE");
    return Validate(args[1]);
  }
  if (args[0] != "simulate") {
    return Usage(absl::StrCat("unknown command \"", args[0], "\""));
  }
  std::optional<std::string> policy, cases, against;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    const auto take = [&](absl::string_view flag,
                          std::optional<std::string>& into) {
      const std::string prefix = absl::StrCat("--", flag, "=");
      if (!absl::StartsWith(arg, prefix)) return false;
      into = arg.substr(prefix.size());
      return true;
    };
    if (!take("policy", policy) && !take("cases", cases) &&
        !take("against", against)) {
      return Usage(absl::StrCat("unknown argument \"", arg, "\""));
    }
  }
  if (!policy.has_value() || policy->empty())
    return Usage("--policy is required");
  if (!cases.has_value() || cases->empty()) return Usage("--cases is required");
  return Simulate(*policy, *cases, against);
}

}  // namespace
}  // namespace makegood::policy_cli

int main(int argc, char** argv) {
  return makegood::policy_cli::Run(
      std::vector<std::string>(argv + 1, argv + argc));
}
