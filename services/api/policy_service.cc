#include "services/api/policy_service.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "google/protobuf/util/time_util.h"
#include "makegood/storage/v1/records.pb.h"
#include "services/policy_proto/engine_proto.h"
#include "services/policy_simulation/simulation.h"
#include "services/rating/conversions.h"
#include "services/rpc/unary_handler.h"

namespace makegood::api {
namespace {

namespace v1 = ::makegood::v1;

// Cases decided per call of policy_simulation::Simulate: bounds the copies made
// of given cases and the records converted at once.
constexpr size_t kChunk = 1000;

void AddSummary(const v1::SimulationSummary& from, v1::SimulationSummary& to) {
  for (const auto& [k, v] : from.outcomes()) (*to.mutable_outcomes())[k] += v;
  for (const auto& [k, v] : from.refunded_minor()) {
    (*to.mutable_refunded_minor())[k] += v;
  }
  for (const auto& [k, v] : from.review_minor()) {
    (*to.mutable_review_minor())[k] += v;
  }
}

// Adds up the simulation of cases decided chunk by chunk.
class Tally {
 public:
  Tally(const policy::PolicyEngine& candidate,
        const policy::PolicyEngine& active)
      : candidate_(candidate), active_(active) {
    response_.mutable_candidate()->set_policy_version(candidate.version());
    response_.mutable_active()->set_policy_version(active.version());
  }

  // Decides `cases`; positions[i] is the position of cases[i] among all.
  void Run(absl::Span<const v1::SimulationCase> cases,
           absl::Span<const int64_t> positions) {
    policy_simulation::SimulationResult chunk =
        policy_simulation::Simulate(candidate_, &active_, cases);
    v1::SimulatePolicyResponse& r = chunk.response;
    response_.set_cases_evaluated(response_.cases_evaluated() +
                                  r.cases_evaluated());
    AddSummary(r.candidate(), *response_.mutable_candidate());
    AddSummary(r.active(), *response_.mutable_active());
    response_.set_differences_total(response_.differences_total() +
                                    r.differences_size());
    for (v1::CaseDifference& d : *r.mutable_differences()) {
      if (response_.differences_size() >= PolicyService::kMaxDifferences) break;
      *response_.add_differences() = std::move(d);
    }
    for (const policy_simulation::CaseError& e : chunk.errors) {
      Fail(positions[e.index], e.case_id, std::string(e.status.message()));
    }
  }

  void Fail(int64_t position, const std::string& case_id, std::string message) {
    response_.set_cases_failed(response_.cases_failed() + 1);
    if (response_.case_errors_size() >= PolicyService::kMaxCaseErrors) return;
    v1::SimulationCaseError* error = response_.add_case_errors();
    error->set_case_id(case_id);
    error->set_index(position);
    error->set_message(std::move(message));
  }

  v1::SimulatePolicyResponse& response() { return response_; }

 private:
  const policy::PolicyEngine& candidate_;
  const policy::PolicyEngine& active_;
  v1::SimulatePolicyResponse response_;
};

// The candidate of a SimulatePolicyRequest, built into an engine, or the
// violations naming its fields ("policy.tiers[1].name", "policy_text").
std::shared_ptr<const policy::PolicyEngine> BuildCandidate(
    const v1::SimulatePolicyRequest& request, absl::Time now,
    Violations& violations) {
  v1::Policy candidate;
  std::string field;
  switch (request.candidate_case()) {
    case v1::SimulatePolicyRequest::kPolicy:
      candidate = request.policy();
      field = "policy";
      break;
    case v1::SimulatePolicyRequest::kPolicyText: {
      absl::StatusOr<v1::Policy> parsed =
          policy_file::ParsePolicyText(request.policy_text());
      if (!parsed.ok()) {
        violations.Add("policy_text", std::string(parsed.status().message()));
        return nullptr;
      }
      candidate = *std::move(parsed);
      field = "policy_text";
      break;
    }
    default:
      violations.Add("candidate", "set policy or policy_text");
      return nullptr;
  }
  std::vector<policy_file::PolicyViolation> found =
      policy_file::ValidatePolicy(candidate);
  for (policy_file::PolicyViolation& v : found) {
    violations.Add(v.field.empty() ? field : absl::StrCat(field, ".", v.field),
                   std::move(v.description));
  }
  if (!found.empty()) return nullptr;
  absl::StatusOr<policy_file::PolicySnapshot> built =
      policy_file::BuildPolicySnapshot(std::move(candidate), now);
  if (!built.ok()) {
    violations.Add(field, std::string(built.status().message()));
    return nullptr;
  }
  return built->engine;
}

void ValidateTimestamp(const std::string& field, bool present,
                       const google::protobuf::Timestamp& ts,
                       Violations& violations) {
  if (!present) {
    violations.Add(field, "is required");
  } else if (ts.seconds() <
                 google::protobuf::util::TimeUtil::kTimestampMinSeconds ||
             ts.seconds() >
                 google::protobuf::util::TimeUtil::kTimestampMaxSeconds ||
             ts.nanos() < 0 || ts.nanos() > 999'999'999) {
    violations.Add(field, "is not a valid timestamp");
  }
}

void ValidateSource(const v1::SimulatePolicyRequest& request,
                    Violations& violations) {
  switch (request.source_case()) {
    case v1::SimulatePolicyRequest::kGiven:
      if (request.given().cases_size() > PolicyService::kMaxCases) {
        violations.Add(
            "given.cases",
            absl::StrCat("at most ", PolicyService::kMaxCases, " cases, not ",
                         request.given().cases_size()));
      }
      return;
    case v1::SimulatePolicyRequest::kRecorded: {
      const v1::RecordedWindow& w = request.recorded();
      const size_t before = violations.list().size();
      ValidateTimestamp("recorded.start_time", w.has_start_time(),
                        w.start_time(), violations);
      ValidateTimestamp("recorded.end_time", w.has_end_time(), w.end_time(),
                        violations);
      if (violations.list().size() == before) {
        const absl::Time start = policy_proto::FromTimestamp(w.start_time());
        const absl::Time end = policy_proto::FromTimestamp(w.end_time());
        if (end <= start) {
          violations.Add("recorded.end_time", "must be after start_time");
        } else if (end - start > PolicyService::kMaxWindow) {
          violations.Add("recorded.end_time",
                         "must be at most 31 days after start_time");
        }
      }
      if (w.max_cases() < 0 || w.max_cases() > PolicyService::kMaxCases) {
        violations.Add("recorded.max_cases",
                       absl::StrCat("must be 0-", PolicyService::kMaxCases,
                                    " (0: ", PolicyService::kDefaultMaxCases,
                                    "), not ", w.max_cases()));
      }
      return;
    }
    default:
      violations.Add("source", "set given or recorded");
  }
}

}  // namespace

// Runs tasks one at a time, in order, on a thread of its own.
class PolicyService::Worker {
 public:
  Worker() : thread_([this] { Run(); }) {}

  ~Worker() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    thread_.join();
  }

  void Post(absl::AnyInvocable<void() &&> task) {
    absl::MutexLock lock(&mu_);
    tasks_.push_back(std::move(task));
  }

 private:
  bool Ready() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || !tasks_.empty();
  }

  // Runs until stopped and drained: every posted task finishes its RPC.
  void Run() {
    while (true) {
      absl::AnyInvocable<void() &&> task;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(this, &Worker::Ready));
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      std::move(task)();
    }
  }

  absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void() &&>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // Last: starts once the rest is built.
};

PolicyService::PolicyService(const auth::Authenticator& auth,
                             const policy_file::ActivePolicy& policy,
                             redis::RedisClient& redis,
                             const store::KeySchema& keys, const Clock& clock,
                             const policy_file::ActivePolicy* shadow,
                             experiments::ExperimentWatcher* experiments)
    : auth_(auth),
      policy_(policy),
      shadow_(shadow),
      records_(redis, keys),
      clock_(clock),
      experiment_rpcs_(redis, keys, policy, clock, experiments),
      worker_(std::make_unique<Worker>()) {}

PolicyService::~PolicyService() = default;

grpc::ServerUnaryReactor* PolicyService::GetPolicy(
    grpc::CallbackServerContext* context,
    const makegood::v1::GetPolicyRequest* /*request*/,
    makegood::v1::GetPolicyResponse* response) {
  return rpc::ServeUnary(
      auth_, context, "/makegood.v1.PolicyService/GetPolicy",
      rpc::NothingToValidate, [&](const auth::Principal&, rpc::Finish finish) {
        std::shared_ptr<const policy_file::PolicySnapshot> active =
            policy_.Get();
        *response->mutable_policy() = active->policy;
        response->set_version(active->version);
        *response->mutable_loaded_at() =
            google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
                absl::ToUnixNanos(active->loaded_at));
        if (shadow_ != nullptr) {
          std::shared_ptr<const policy_file::PolicySnapshot> shadow =
              shadow_->Get();
          *response->mutable_shadow_policy() = shadow->policy;
          response->set_shadow_version(shadow->version);
        }
        finish(absl::OkStatus());
      });
}

grpc::ServerUnaryReactor* PolicyService::ValidatePolicy(
    grpc::CallbackServerContext* context,
    const makegood::v1::ValidatePolicyRequest* request,
    makegood::v1::ValidatePolicyResponse* response) {
  return rpc::ServeUnary(
      auth_, context, "/makegood.v1.PolicyService/ValidatePolicy",
      [request](Violations& violations) {
        if (request->candidate_case() ==
            makegood::v1::ValidatePolicyRequest::CANDIDATE_NOT_SET) {
          violations.Add("candidate", "set policy or policy_text");
        }
      },
      [request, response](const auth::Principal&, rpc::Finish finish) {
        makegood::v1::Policy candidate;
        if (request->candidate_case() ==
            makegood::v1::ValidatePolicyRequest::kPolicy) {
          candidate = request->policy();
        } else {
          absl::StatusOr<makegood::v1::Policy> parsed =
              policy_file::ParsePolicyText(request->policy_text());
          if (!parsed.ok()) {
            // A policy that does not parse is a finding, not a failed call.
            response->set_valid(false);
            auto* violation = response->add_violations();
            violation->set_field("policy_text");
            violation->set_description(std::string(parsed.status().message()));
            finish(absl::OkStatus());
            return;
          }
          candidate = *std::move(parsed);
        }
        std::vector<policy_file::PolicyViolation> found =
            policy_file::ValidatePolicy(candidate);
        response->set_valid(found.empty());
        if (found.empty()) {
          response->set_version(policy_file::PolicyVersion(candidate));
        }
        for (const auto& v : found) {
          auto* violation = response->add_violations();
          violation->set_field(v.field);
          violation->set_description(v.description);
        }
        finish(absl::OkStatus());
      });
}

grpc::ServerUnaryReactor* PolicyService::SimulatePolicy(
    grpc::CallbackServerContext* context,
    const makegood::v1::SimulatePolicyRequest* request,
    makegood::v1::SimulatePolicyResponse* response) {
  std::shared_ptr<const policy::PolicyEngine> candidate;
  return rpc::ServeUnary(
      auth_, context, "/makegood.v1.PolicyService/SimulatePolicy",
      [&](Violations& violations) {
        candidate = BuildCandidate(*request, clock_.Now(), violations);
        ValidateSource(*request, violations);
      },
      [&](const auth::Principal&, rpc::Finish finish) {
        Simulate(context, request, response, std::move(candidate), finish);
      });
}

void PolicyService::Simulate(
    grpc::CallbackServerContext* context,
    const makegood::v1::SimulatePolicyRequest* request,
    makegood::v1::SimulatePolicyResponse* response,
    std::shared_ptr<const policy::PolicyEngine> candidate,
    rpc::Finish finish_call) {
  if (simulations_.fetch_add(1) >= kMaxConcurrentSimulations) {
    simulations_.fetch_sub(1);
    finish_call(absl::UnavailableError(
        "too many simulations are running; retry later"));
    return;
  }
  // Against the policy active when the call arrived.
  std::shared_ptr<const policy::PolicyEngine> active = policy_.Get()->engine;
  auto finish = [this, finish_call](const absl::Status& status) {
    simulations_.fetch_sub(1);
    finish_call(status);
  };
  // Runs on the worker: decides `count` cases chunk by chunk.
  // convert(i, cases, tally) appends case i to `cases` and returns true, or
  // reports it to the tally as failed and returns false.
  auto simulate = [context, response, candidate, active, finish](
                      size_t count, bool truncated, auto convert) {
    if (context->IsCancelled()) {
      finish(absl::CancelledError("the caller cancelled the simulation"));
      return;
    }
    Tally tally(*candidate, *active);
    std::vector<v1::SimulationCase> cases;
    std::vector<int64_t> positions;
    for (size_t begin = 0; begin < count; begin += kChunk) {
      cases.clear();
      positions.clear();
      for (size_t i = begin; i < std::min(count, begin + kChunk); ++i) {
        if (convert(i, cases, tally)) {
          positions.push_back(static_cast<int64_t>(i));
        }
      }
      tally.Run(cases, positions);
    }
    tally.response().set_truncated(truncated);
    *response = std::move(tally.response());
    finish(absl::OkStatus());
  };

  if (request->has_given()) {
    worker_->Post([request, simulate]() mutable {
      const auto& given = request->given().cases();
      simulate(
          given.size(), /*truncated=*/false,
          [&given](size_t i, std::vector<v1::SimulationCase>& cases, Tally&) {
            cases.push_back(given[static_cast<int>(i)]);
            return true;
          });
    });
    return;
  }

  const v1::RecordedWindow& window = request->recorded();
  records_.ListCommitted(
      policy_proto::FromTimestamp(window.start_time()),
      policy_proto::FromTimestamp(window.end_time()),
      window.max_cases() == 0 ? kDefaultMaxCases : window.max_cases(),
      [this, simulate,
       finish](absl::StatusOr<store::CommittedRatings> found) mutable {
        if (!found.ok()) {
          finish(found.status());
          return;
        }
        // Off the Redis I/O thread: parsing and deciding take a while.
        worker_->Post([simulate, found = *std::move(found)]() mutable {
          simulate(found.ratings.size(), found.truncated,
                   [&found](size_t i, std::vector<v1::SimulationCase>& cases,
                            Tally& tally) {
                     const store::CommittedRating& stored = found.ratings[i];
                     makegood::storage::v1::RatingRecord record;
                     if (!record.ParseFromString(stored.record_pb)) {
                       tally.Fail(static_cast<int64_t>(i), stored.rating_id,
                                  "stored rating record does not parse");
                       return false;
                     }
                     cases.push_back(rating::RecordToSimulationCase(record));
                     return true;
                   });
        });
      });
}

grpc::ServerUnaryReactor* PolicyService::StartExperiment(
    grpc::CallbackServerContext* context,
    const makegood::v1::StartExperimentRequest* request,
    makegood::v1::StartExperimentResponse* response) {
  std::optional<makegood::v1::Policy> candidate;
  return rpc::ServeUnary(
      auth_, context, "/makegood.v1.PolicyService/StartExperiment",
      [&](Violations& violations) {
        candidate = ValidateStartExperiment(*request, violations);
      },
      [&](const auth::Principal& principal, rpc::Finish finish) {
        // Valid requests only come here: the candidate parsed.
        worker_->Post([this, request, response, caller = principal.id,
                       candidate = *std::move(candidate),
                       finish = std::move(finish)]() mutable {
          finish(experiment_rpcs_.Start(*request, std::move(candidate), caller,
                                        *response));
        });
      });
}

grpc::ServerUnaryReactor* PolicyService::GetExperiment(
    grpc::CallbackServerContext* context,
    const makegood::v1::GetExperimentRequest* request,
    makegood::v1::GetExperimentResponse* response) {
  return rpc::ServeUnary(
      auth_, context, "/makegood.v1.PolicyService/GetExperiment",
      [request](Violations& violations) {
        ValidateGetExperiment(*request, violations);
      },
      [this, request, response](const auth::Principal&, rpc::Finish finish) {
        worker_->Post(
            [this, request, response, finish = std::move(finish)]() mutable {
              finish(experiment_rpcs_.Get(*request, *response));
            });
      });
}

grpc::ServerUnaryReactor* PolicyService::StopExperiment(
    grpc::CallbackServerContext* context,
    const makegood::v1::StopExperimentRequest* request,
    makegood::v1::StopExperimentResponse* response) {
  return rpc::ServeUnary(
      auth_, context, "/makegood.v1.PolicyService/StopExperiment",
      [request](Violations& violations) {
        ValidateStopExperiment(*request, violations);
      },
      [this, request, response](const auth::Principal& principal,
                                rpc::Finish finish) {
        worker_->Post([this, request, response, caller = principal.id,
                       finish = std::move(finish)]() mutable {
          finish(experiment_rpcs_.Stop(*request, caller, *response));
        });
      });
}

}  // namespace makegood::api
