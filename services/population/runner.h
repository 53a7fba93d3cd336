// File: services/population/runner.h
//
// Runs simulated populations through a running makegood's public gRPC API:
// reads the active policy (PolicyService.GetPolicy) for the currencies it
// serves, its tiers and its low-rating threshold; then, per currency and
// seed, records every member (MemberService.UpsertMember) and their orders
// (OrderService.RecordDelivery), oldest first, and sends their ratings
// (RatingService.SubmitRating) in delivery order, and tallies the decisions.
// Members run in parallel (they share no state on the server); each member's
// calls run in order.
//
// With RunOptions::retention on, members also order again after their
// troubles, retention days later (retention_run.h), and the report
// carries the server's retention cohorts beside what the members did
// (Report::retention()).
//
// Example:
//   RunOptions options{.target = "127.0.0.1:50051", .seeds = {1, 2, 3}};
//   absl::StatusOr<Report> report = RunPopulation(config, options);
//
// Thread-safety: RunPopulation may be called from any thread; it starts and
// joins its own workers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "makegood/v1/policy.pb.h"
#include "services/population/experiment_run.h"
#include "services/population/population.pb.h"
#include "services/population/report.h"
#include "services/population/retention_run.h"

namespace makegood::population {

struct RunOptions {
  // host:port of a plaintext makegood.
  std::string target;
  std::vector<uint64_t> seeds = {1};
  // Prefix of every member and order id; a new one for a rerun against a
  // server that already holds an earlier run.
  std::string prefix = "pop";
  // The server's present (delivered_at and member_since are drawn before
  // it).
  absl::Time now;
  // Members in flight at once.
  int concurrency = 8;
  // Sent with every call, e.g. {"x-client-id", "population"}.
  std::vector<std::pair<std::string, std::string>> metadata;
  // Empty: every currency the policy serves.
  std::vector<std::string> currencies;
  absl::Duration call_timeout = absl::Seconds(10);
  // Reorders after troubles, and the comparison with GetRetentionStats.
  RetentionRunOptions retention;
  // A policy experiment started before the members come and read after the
  // run (experiment_run.h); its name is ExperimentName(prefix, plan).
  std::optional<LoadedPlan> experiment;
};

// The currencies `policy` serves: values that look like ISO 4217 codes
// (three capital letters) of every string field whose name mentions
// "currenc", of `code` fields in messages named for markets or currencies,
// and the keys of maps so named, anywhere in the document, in first-seen
// order. Read by reflection so that it follows the policy document's shape
// as it grows (one `currency` today, per-currency money settings tomorrow);
// RunOptions::currencies overrides it.
// Takes any message: the policy, or a test's stand-in for a future shape.
std::vector<std::string> ServedCurrencies(
    const google::protobuf::Message& policy);

// The report; an error when the server cannot be reached, the policy cannot
// be read, or the config does not fit the policy (an unknown tier, a
// currency without a scale); with retention on, also when the config has
// no retention model or RetentionRun::Start fails; with an experiment,
// when ExperimentRun::Start fails. Calls that fail after
// retries are counted in Report::errors() and left out of the figures.
absl::StatusOr<Report> RunPopulation(const PopulationConfig& config,
                                     const RunOptions& options);

}  // namespace makegood::population
