// File: services/population/report.h
//
// Decision quality, tallied from the decisions the server returned: per
// currency, per seed and per segment, the outcomes of claims and of other
// ratings, the money claimed and paid; and the four headline figures:
//   honest_established_made_good  claims of GROUP_HONEST_ESTABLISHED members
//                                 made good at once (MadeGoodAtOnce), goal
//                                 >= 97 %;
//   honest_new_made_good          the same for GROUP_HONEST_NEW, goal >= 60 %;
//   abuser_money_paid             money the decisions moved on GROUP_ABUSER
//                                 claims / the money those claims asked for
//                                 (ClaimedMinor), goal <= 5 %;
//   silence                       claims (any segment) answered
//                                 OUTCOME_NO_ACTION, goal 0.
// Rendered as a human table and as one JSON line; with retention after
// trouble (retention_report.h) when the run tracked it.
//
// Thread-safety: not thread-safe; fill it from one thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "makegood/v1/rating.pb.h"
#include "services/population/experiment_run.h"
#include "services/population/population.pb.h"
#include "services/population/retention_report.h"

namespace makegood::population {

// One rating and the server's decision on it.
struct RatedResult {
  bool claim = false;
  int64_t claimed_minor = 0;
  v1::Outcome outcome = v1::OUTCOME_UNSPECIFIED;
  // The decision's refund amount (money or credit moved at once), 0 if none.
  int64_t paid_minor = 0;
  int64_t review_minor = 0;
  // The decision's reason codes.
  std::vector<std::string> reason_codes;
};

struct SegmentTally {
  Group group = GROUP_UNSPECIFIED;
  int64_t members = 0;
  int64_t ratings = 0;
  int64_t claims = 0;
  int64_t made_good = 0;  // claims made good at once
  int64_t no_action = 0;  // claims answered OUTCOME_NO_ACTION
  int64_t claimed_minor = 0;
  int64_t paid_minor = 0;                          // on claims
  std::map<std::string, int64_t> paid_by_outcome;  // paid_minor by Outcome
  int64_t review_minor = 0;
  std::map<std::string, int64_t> claim_outcomes;  // by Outcome name
  std::map<std::string, int64_t> other_outcomes;  // ratings that are no claim
  // Why claims were not made good at once: each reason code of those
  // decisions, counted once per claim.
  std::map<std::string, int64_t> not_made_good_reasons;

  void Add(const RatedResult& result);
  void Merge(const SegmentTally& other);
};

// A count out of a total; share() is 0 when total is 0.
struct Share {
  int64_t part = 0;
  int64_t total = 0;
  double share() const {
    return total == 0 ? 0.0 : static_cast<double>(part) / total;
  }
};

struct Headline {
  Share honest_established_made_good;
  Share honest_new_made_good;
  Share abuser_money_paid;  // minor units
  Share silence;
};

// Segments in config order, by name.
using Tallies = std::vector<std::pair<std::string, SegmentTally>>;

Headline HeadlineOf(const Tallies& tallies);

class Report {
 public:
  Report(std::string policy_version, std::vector<uint64_t> seeds)
      : policy_version_(std::move(policy_version)), seeds_(std::move(seeds)) {}

  // The tallies of one seed in one currency.
  void AddRun(const std::string& currency, uint64_t seed, Tallies tallies);
  // Ratings that failed (after retries) count as errors: the figures then
  // leave them out.
  void AddErrors(int64_t errors) { errors_ += errors; }
  int64_t errors() const { return errors_; }
  // Ratings the server answered from an earlier run's stored response (the
  // same ids: a rerun with the same --prefix against the same server).
  void AddReplayed(int64_t replayed) { replayed_ += replayed; }
  int64_t replayed() const { return replayed_; }

  // Retention after trouble (a run with RunOptions::retention on): shown
  // after the decision-quality tables and as the JSON line's "retention".
  void SetRetention(RetentionReport retention) {
    retention_ = std::move(retention);
  }
  const std::optional<RetentionReport>& retention() const { return retention_; }

  // A policy experiment run beside the population: shown last and as the
  // JSON line's "experiment".
  void SetExperiment(ExperimentReport experiment) {
    experiment_ = std::move(experiment);
  }
  const std::optional<ExperimentReport>& experiment() const {
    return experiment_;
  }

  // Every seed of `currency`, added up.
  Tallies Total(const std::string& currency) const;
  std::vector<std::string> currencies() const;

  std::string Table() const;
  std::string JsonLine() const;

 private:
  std::string policy_version_;
  std::vector<uint64_t> seeds_;
  int64_t errors_ = 0;
  int64_t replayed_ = 0;
  // currency -> seed -> tallies
  std::map<std::string, std::map<uint64_t, Tallies>> runs_;
  std::optional<RetentionReport> retention_;
  std::optional<ExperimentReport> experiment_;
};

}  // namespace makegood::population
