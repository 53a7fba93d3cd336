#include "services/population/runner.h"

#include <algorithm>
#include <atomic>
#include <iostream>
#include <memory>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"
#include "services/population/claim.h"
#include "services/population/client.h"
#include "services/population/config.h"
#include "services/population/experiment_run.h"
#include "services/population/generator.h"
#include "services/population/retention_run.h"
#include "services/retention/trouble.h"

namespace makegood::population {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

bool LooksLikeCurrency(const std::string& code) {
  return code.size() == 3 && std::all_of(code.begin(), code.end(), [](char c) {
           return c >= 'A' && c <= 'Z';
         });
}

// Money settings per currency may be keyed by a field named for currencies
// (`currency`, `currencies`, `currency_code`, a map keyed by currency) or
// live in a message named for markets, money or currencies with a `code`
// field.
bool MoneyName(absl::string_view name) {
  for (absl::string_view word :
       {"currenc", "Currenc", "market", "Market", "money", "Money"}) {
    if (absl::StrContains(name, word)) return true;
  }
  return false;
}

void CollectCurrencies(const Message& message, bool money_context,
                       std::vector<std::string>& out) {
  const auto* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  auto add = [&](const std::string& code) {
    if (LooksLikeCurrency(code) &&
        std::find(out.begin(), out.end(), code) == out.end()) {
      out.push_back(code);
    }
  };
  for (const FieldDescriptor* field : fields) {
    const bool named = absl::StrContains(field->name(), "currenc") ||
                       (money_context && (field->name() == "code" ||
                                          field->name() == "iso_code"));
    if (field->is_map()) {
      const FieldDescriptor* key = field->message_type()->map_key();
      const bool keyed = MoneyName(field->name());
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        const Message& entry =
            reflection->GetRepeatedMessage(message, field, i);
        if (keyed && key->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
          add(entry.GetReflection()->GetString(entry, key));
        }
        CollectCurrencies(entry, keyed, out);
      }
      continue;
    }
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING && named) {
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
          add(reflection->GetRepeatedString(message, field, i));
        }
      } else {
        add(reflection->GetString(message, field));
      }
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      const bool context =
          MoneyName(field->name()) || MoneyName(field->message_type()->name());
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
          CollectCurrencies(reflection->GetRepeatedMessage(message, field, i),
                            context, out);
        }
      } else {
        CollectCurrencies(reflection->GetMessage(message, field), context, out);
      }
    }
  }
}

// What one member's run produced.
struct MemberRun {
  std::vector<RatedResult> results;
  int64_t errors = 0;
  int64_t replayed = 0;
  std::string first_error;
};

// How a member's ratings are read, and what follows a trouble.
struct MemberContext {
  int low_max = 50;
  int trouble_max = 50;
  // Null: no reorders (RunOptions::retention off).
  RetentionRun* retention = nullptr;
  // Null: no experiment.
  ExperimentRun* experiment = nullptr;
};

MemberRun RunMember(Client& client, const SimMember& sim,
                    const MemberContext& context) {
  MemberRun run;
  MemberRetention retention;
  auto failed = [&](const std::string& what, const grpc::Status& status) {
    ++run.errors;
    if (run.first_error.empty()) {
      run.first_error = absl::StrCat(what, ": ", status.error_code(), " ",
                                     status.error_message());
    }
  };
  if (grpc::Status s = client.Upsert(sim.member); !s.ok()) {
    failed(absl::StrCat("UpsertMember ", sim.member.member_id()), s);
    return run;
  }
  for (const v1::Order& order : sim.past_orders) {
    if (grpc::Status s = client.Record(order); !s.ok()) {
      failed(absl::StrCat("RecordDelivery ", order.order_id()), s);
    }
  }
  for (const RecentOrder& recent : sim.recent_orders) {
    if (grpc::Status s = client.Record(recent.order); !s.ok()) {
      failed(absl::StrCat("RecordDelivery ", recent.order.order_id()), s);
      continue;
    }
    if (!recent.rating.has_value()) continue;
    v1::SubmitRatingResponse response;
    const absl::Time sent = absl::Now();
    if (grpc::Status s = client.Rate(*recent.rating, response); !s.ok()) {
      failed(absl::StrCat("SubmitRating ", recent.order.order_id()), s);
      continue;
    }
    const absl::Time answered = absl::Now();
    if (response.replayed()) ++run.replayed;
    RatedResult result;
    result.claim = IsClaim(*recent.rating, context.low_max);
    result.claimed_minor =
        ClaimedMinor(*recent.rating, recent.order, context.low_max);
    const v1::Decision& decision = response.decision();
    result.outcome = decision.outcome();
    result.paid_minor =
        decision.has_refund() ? decision.refund().amount_minor() : 0;
    result.review_minor = decision.review_amount_minor();
    result.reason_codes.assign(decision.reason_codes().begin(),
                               decision.reason_codes().end());
    run.results.push_back(result);
    if (response.replayed()) continue;  // The first run's answer counted.
    if (context.experiment != nullptr) {
      context.experiment->Note(sim, recent, response);
    }
    if (context.retention != nullptr &&
        IsTrouble(*recent.rating, context.trouble_max)) {
      NoteTrouble(sim, recent, response, sent, answered,
                  context.experiment == nullptr
                      ? std::string(retention::kNoArm)
                      : context.experiment->ArmOf(decision.policy_version()),
                  retention);
    }
  }
  if (context.retention != nullptr) {
    context.retention->Add(std::move(retention));
  }
  return run;
}

}  // namespace

std::vector<std::string> ServedCurrencies(
    const google::protobuf::Message& policy) {
  std::vector<std::string> out;
  CollectCurrencies(policy, /*money_context=*/false, out);
  return out;
}

absl::StatusOr<Report> RunPopulation(const PopulationConfig& config,
                                     const RunOptions& options) {
  if (absl::Status s = CheckConfig(config); !s.ok()) return s;
  Client client({.target = options.target,
                 .metadata = options.metadata,
                 .call_timeout = options.call_timeout});
  v1::GetPolicyResponse policy;
  if (grpc::Status s = client.GetPolicy(policy); !s.ok()) {
    return absl::UnavailableError(absl::StrCat("PolicyService.GetPolicy on ",
                                               options.target, ": ",
                                               s.error_message()));
  }
  absl::flat_hash_set<std::string> tiers;
  for (const v1::Tier& tier : policy.policy().tiers())
    tiers.insert(tier.name());
  for (const Segment& segment : config.segments()) {
    for (const TierWeight& t : segment.tiers()) {
      if (!tiers.contains(t.tier())) {
        return absl::FailedPreconditionError(absl::StrCat(
            "segment ", segment.name(), " wants tier \"", t.tier(),
            "\", which policy ", policy.version(), " does not define"));
      }
    }
  }
  MemberContext context;
  context.low_max = policy.policy().low_rating_max_percent();
  context.trouble_max = policy.policy().has_trouble_max_percent()
                            ? policy.policy().trouble_max_percent()
                            : context.low_max;
  if (options.retention.enabled && !config.has_retention()) {
    return absl::FailedPreconditionError(
        "retention: the population file has no retention model (see "
        "config/population/default.textproto)");
  }
  std::vector<std::string> currencies = options.currencies.empty()
                                            ? ServedCurrencies(policy.policy())
                                            : options.currencies;
  if (currencies.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "policy ", policy.version(), " names no currency; pass --currencies"));
  }
  std::cerr << "population: policy " << policy.version() << ", currencies "
            << absl::StrJoin(currencies, ",") << "\n";
  std::vector<CurrencyScale> scales;
  for (const std::string& currency : currencies) {
    absl::StatusOr<CurrencyScale> scale = ScaleFor(config, currency);
    if (!scale.ok()) return scale.status();
    scales.push_back(*scale);
  }

  // Before the members: every decision falls in an arm.
  std::unique_ptr<ExperimentRun> experiment;
  if (options.experiment.has_value()) {
    absl::StatusOr<std::unique_ptr<ExperimentRun>> started =
        ExperimentRun::Start(client, *options.experiment, options.prefix,
                             options.retention.enabled
                                 ? config.retention().within_30_days()
                                 : 0);
    if (!started.ok()) return started.status();
    experiment = *std::move(started);
    context.experiment = experiment.get();
    std::cerr << "population: experiment " << experiment->experiment().name()
              << ": candidate " << experiment->experiment().candidate_version()
              << " for " << experiment->experiment().candidate_share_bp()
              << " bp, control " << experiment->experiment().control_version()
              << "\n";
  }

  // Started last: once it runs, the members' reorders are placed.
  std::unique_ptr<RetentionRun> retention;
  if (options.retention.enabled) {
    absl::StatusOr<std::unique_ptr<RetentionRun>> started =
        RetentionRun::Start(client, config.retention(), options.retention);
    if (!started.ok()) return started.status();
    retention = *std::move(started);
    context.retention = retention.get();
  }

  Report report(policy.version(), options.seeds);
  std::string first_error;
  for (size_t c = 0; c < currencies.size(); ++c) {
    for (uint64_t seed : options.seeds) {
      const absl::Time start = absl::Now();
      const std::vector<SimMember> members =
          Generate(config, {.seed = seed,
                            .currency = currencies[c],
                            .scale = scales[c],
                            .prefix = options.prefix,
                            .now = options.now});
      std::vector<MemberRun> runs(members.size());
      std::atomic<size_t> next{0};
      std::vector<std::thread> workers;
      const int threads = std::max(1, options.concurrency);
      for (int w = 0; w < threads; ++w) {
        workers.emplace_back([&] {
          for (size_t i = next++; i < members.size(); i = next++) {
            runs[i] = RunMember(client, members[i], context);
          }
        });
      }
      for (std::thread& worker : workers) worker.join();

      Tallies tallies;
      for (const Segment& segment : config.segments()) {
        SegmentTally tally;
        tally.group = segment.group();
        tallies.emplace_back(segment.name(), tally);
      }
      int64_t errors = 0;
      int64_t replayed = 0;
      for (size_t i = 0; i < members.size(); ++i) {
        auto at = std::find_if(tallies.begin(), tallies.end(), [&](auto& e) {
          return e.first == members[i].segment;
        });
        ++at->second.members;
        for (const RatedResult& result : runs[i].results)
          at->second.Add(result);
        errors += runs[i].errors;
        replayed += runs[i].replayed;
        if (first_error.empty()) first_error = runs[i].first_error;
      }
      report.AddRun(currencies[c], seed, std::move(tallies));
      report.AddErrors(errors);
      report.AddReplayed(replayed);
      std::cerr << "population: " << currencies[c] << " seed " << seed << ": "
                << members.size() << " members in "
                << absl::FormatDuration(absl::Now() - start)
                << (errors > 0 ? absl::StrCat(", ", errors, " failed calls")
                               : "")
                << "\n";
    }
  }
  if (retention != nullptr) {
    int64_t errors = 0;
    report.SetRetention(retention->Finish(errors, first_error));
    report.AddErrors(errors);
  }
  if (experiment != nullptr) {
    ExperimentReport experiment_report = experiment->Finish(
        report.retention().has_value() ? &report.retention()->troubles()
                                       : nullptr);
    report.AddErrors(experiment_report.errors);
    report.SetExperiment(std::move(experiment_report));
  }
  if (!first_error.empty()) {
    std::cerr << "population: first failed call: " << first_error << "\n";
  }
  return report;
}

}  // namespace makegood::population
