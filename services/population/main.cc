// File: services/population/main.cc
//
// makegood_population: runs a seeded simulated population of members through
// a running makegood's public gRPC API and reports decision quality per
// currency (docs/POPULATION.md). Prints the human table, then one JSON line
// (the last line of stdout); progress goes to stderr. Exits 1 when a call
// failed after retries (the figures then leave it out) or, with
// --retention, when the server's retention counts differ from what the
// members did, or with --experiment, when its arms' counts do; 2 on bad
// flags or config.
//
// Example:
//   makegood_population --target=127.0.0.1:50051 --seeds=1,2,3
//       --config=config/population/default.textproto
//
// scripts/simulate_population.sh starts a server of its own and runs this.

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/population/config.h"
#include "services/population/experiment_run.h"
#include "services/population/runner.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051",
          "host:port of a plaintext makegood.");
ABSL_FLAG(std::string, config, "config/population/default.textproto",
          "The population's parameter file (services/population/"
          "population.proto).");
ABSL_FLAG(std::string, seeds, "1,2,3", "Seeds, comma separated.");
ABSL_FLAG(std::string, prefix, "pop",
          "Prefix of every member and order id; change it to rerun against a "
          "server that holds an earlier run.");
ABSL_FLAG(std::string, currencies, "",
          "Currencies to simulate, comma separated; empty: every currency the "
          "server's policy serves (PolicyService.GetPolicy).");
ABSL_FLAG(int, concurrency, 8, "Members simulated at once, 1-256.");
ABSL_FLAG(std::string, metadata, "x-client-id=makegood-population",
          "gRPC metadata sent with every call: key=value, comma separated.");
ABSL_FLAG(std::string, now, "",
          "The server's present, RFC 3339 (default: this machine's clock). "
          "With the same seeds, prefix and now, the requests are identical.");
ABSL_FLAG(std::string, format, "both", "table, json or both.");
ABSL_FLAG(bool, retention, false,
          "Members order again after their troubles, retention days later, "
          "by the population file's retention model; at the end the "
          "server's InsightsService.GetRetentionStats is compared with what "
          "they did (exit 1 when it differs). The server needs "
          "--insights_aggregator, the same --retention_day and this "
          "machine's clock, and no trouble windows open when the run "
          "starts.");
ABSL_FLAG(absl::Duration, retention_day, absl::Milliseconds(200),
          "With --retention: the server's --retention_day (whole "
          "milliseconds, >= 10ms; 200ms: 90 days in 18 s).");
ABSL_FLAG(std::string, experiment, "",
          "A policy experiment plan (services/population/population.proto "
          "ExperimentPlan, e.g. config/population/"
          "experiment_retains_more.textproto): started with "
          "PolicyService.StartExperiment before the members come (named "
          "<prefix>-<name>), abusers' refunds reported with "
          "RefundService.MarkRefundAbusive, and GetExperiment's arms and "
          "verdict reported beside the simulator's ground truth (with "
          "--retention) at the end (exit 1 when the arms' counts differ). "
          "The server needs --insights_aggregator for its guardrails.");
ABSL_FLAG(absl::Duration, retention_wait, absl::Minutes(2),
          "With --retention: how long the server may take to close the last "
          "window once due (its --retention_sweep_interval, and then some).");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Runs a seeded simulated population through makegood's public API and "
      "reports decision quality per currency.");
  absl::ParseCommandLine(argc, argv);
  using makegood::population::RunOptions;
  RunOptions options;
  options.target = absl::GetFlag(FLAGS_target);
  options.prefix = absl::GetFlag(FLAGS_prefix);
  options.concurrency = absl::GetFlag(FLAGS_concurrency);
  if (options.concurrency < 1 || options.concurrency > 256) {
    std::cerr << "--concurrency: want 1-256\n";
    return 2;
  }
  options.seeds.clear();
  for (absl::string_view s :
       absl::StrSplit(absl::GetFlag(FLAGS_seeds), ',', absl::SkipEmpty())) {
    uint64_t seed = 0;
    if (!absl::SimpleAtoi(s, &seed)) {
      std::cerr << "--seeds: \"" << s << "\" is not a number\n";
      return 2;
    }
    options.seeds.push_back(seed);
  }
  if (options.seeds.empty()) {
    std::cerr << "--seeds: at least one\n";
    return 2;
  }
  for (absl::string_view c : absl::StrSplit(absl::GetFlag(FLAGS_currencies),
                                            ',', absl::SkipEmpty())) {
    options.currencies.emplace_back(c);
  }
  for (absl::string_view kv :
       absl::StrSplit(absl::GetFlag(FLAGS_metadata), ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> pair =
        absl::StrSplit(kv, absl::MaxSplits('=', 1));
    options.metadata.push_back(std::move(pair));
  }
  options.now = absl::Now();
  if (const std::string now = absl::GetFlag(FLAGS_now); !now.empty()) {
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, now, &options.now, &error)) {
      std::cerr << "--now: " << error << "\n";
      return 2;
    }
  }
  options.retention.enabled = absl::GetFlag(FLAGS_retention);
  options.retention.day = absl::GetFlag(FLAGS_retention_day);
  options.retention.settle_timeout = absl::GetFlag(FLAGS_retention_wait);
  options.retention.placers = std::min(options.concurrency, 8);
  const std::string format = absl::GetFlag(FLAGS_format);
  if (format != "table" && format != "json" && format != "both") {
    std::cerr << "--format: want table, json or both\n";
    return 2;
  }

  absl::StatusOr<makegood::population::PopulationConfig> config =
      makegood::population::LoadConfig(absl::GetFlag(FLAGS_config));
  if (!config.ok()) {
    std::cerr << "makegood_population: " << config.status().message() << "\n";
    return 2;
  }
  if (const std::string plan = absl::GetFlag(FLAGS_experiment); !plan.empty()) {
    absl::StatusOr<makegood::population::LoadedPlan> loaded =
        makegood::population::LoadExperimentPlan(plan);
    if (!loaded.ok()) {
      std::cerr << "makegood_population: --experiment: "
                << loaded.status().message() << "\n";
      return 2;
    }
    options.experiment = *std::move(loaded);
  }
  absl::StatusOr<makegood::population::Report> report =
      makegood::population::RunPopulation(*config, options);
  if (!report.ok()) {
    std::cerr << "makegood_population: " << report.status() << "\n";
    return 2;
  }
  if (format != "json") std::cout << report->Table();
  if (format != "table") std::cout << report->JsonLine() << "\n";
  if (report->retention().has_value() &&
      !report->retention()->Mismatches().empty()) {
    std::cerr << "makegood_population: the server's retention counts differ "
                 "from what the members did (RETENTION MISMATCH above)\n";
    return 1;
  }
  if (report->experiment().has_value() &&
      !report->experiment()->Problems().empty()) {
    std::cerr << "makegood_population: the server's experiment arms differ "
                 "from what the members did (EXPERIMENT MISMATCH above)\n";
    return 1;
  }
  return report->errors() > 0 ? 1 : 0;
}
