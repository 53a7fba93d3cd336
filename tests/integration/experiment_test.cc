// Policy experiments end to end on a real Redis and real gRPC: started,
// read and stopped through PolicyService, members split between the active
// and the candidate policy as the hash says, each decision tallied in its
// arm, the guardrails (money per day, abuse corrections) stopping it by
// themselves, the audit trail, and a verdict from retention after trouble.
#include "services/experiments/experiment.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "makegood/v1/insights_service.grpc.pb.h"
#include "services/experiments/experiment_watcher.h"
#include "services/policy_file/policy_document.h"
#include "services/redis/hiredis_client.h"
#include "services/retention/sweeper.h"
#include "services/store/key_schema.h"
#include "tests/testing/app_harness.h"
#include "tests/testing/eventually.h"
#include "tests/testing/grpc_status.h"

namespace makegood {
namespace {

using ::makegood::testing::AppHarness;
using ::makegood::testing::ErrorReason;
using ::makegood::testing::Eventually;
using ::makegood::testing::ViolatedFields;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;

constexpr absl::Duration kDay = absl::Hours(24);

v1::Policy DefaultPolicy() {
  auto snapshot = policy_file::LoadPolicyFile(
      std::string(MAKEGOOD_SOURCE_DIR) + "/config/policy/default.textproto",
      absl::Now());
  EXPECT_TRUE(snapshot.ok()) << snapshot.status();
  return snapshot->policy;
}

// The default policy under another name: another version, the same rules.
v1::Policy Candidate() {
  v1::Policy policy = DefaultPolicy();
  policy.set_name("candidate");
  return policy;
}

class ExperimentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto h = AppHarness::Create();
    ASSERT_TRUE(h.ok()) << h.status();
    h_ = *std::move(h);
    h_->config().experiment_poll_interval = absl::Milliseconds(20);
  }

  void Start() {
    ASSERT_TRUE(h_->StartApp().ok());
    keys_ = std::make_unique<store::KeySchema>(
        *store::KeySchema::Create(h_->config().partitions));
    auto redis = redis::HiredisClient::Start(h_->config().redis);
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    ASSERT_TRUE(Eventually([&] { return redis_->ready_connections() > 0; }));
    // The guard of a worker process, driven by the test.
    guard_ = std::make_unique<experiments::ExperimentWatcher>(
        *redis_, *keys_, h_->clock(),
        experiments::WatcherOptions{.guard = true});
  }

  grpc::Status StartExperiment(const v1::StartExperimentRequest& request,
                               v1::StartExperimentResponse* response) {
    grpc::ClientContext context;
    context.AddMetadata("x-client-id", "risk-lead");
    return h_->stubs().policies->StartExperiment(&context, request, response);
  }

  v1::StartExperimentRequest Request(const std::string& name, int share_bp) {
    v1::StartExperimentRequest request;
    request.set_name(name);
    *request.mutable_candidate() = Candidate();
    request.set_candidate_share_bp(share_bp);
    request.set_description("same rules, another name");
    return request;
  }

  v1::GetExperimentResponse Get(const std::string& name) {
    v1::GetExperimentRequest request;
    request.set_name(name);
    grpc::ClientContext context;
    v1::GetExperimentResponse response;
    grpc::Status status =
        h_->stubs().policies->GetExperiment(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  grpc::Status Stop(const std::string& name, v1::StopExperimentResponse* out) {
    v1::StopExperimentRequest request;
    request.set_name(name);
    request.set_reason("enough");
    grpc::ClientContext context;
    context.AddMetadata("x-client-id", "risk-lead");
    return h_->stubs().policies->StopExperiment(&context, request, out);
  }

  // A member with an order delivered an hour ago, rated 40 % as late.
  v1::SubmitRatingResponse RateOne(const std::string& member) {
    EXPECT_TRUE(h_->UpsertMember(member).ok());
    const std::string order = absl::StrCat("o-", member, "-", ++orders_);
    EXPECT_TRUE(h_->RecordOrder(member, order).ok());
    v1::SubmitRatingRequest request =
        testing::MeltedRating(order + "-rating", member, order, 40);
    grpc::ClientContext context;
    context.AddMetadata("x-client-id", "experiment-test");
    v1::SubmitRatingResponse response;
    grpc::Status status =
        h_->stubs().ratings->SubmitRating(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  std::vector<std::string> AuditEvents() {
    std::vector<std::string> events;
    auto entries =
        h_->Redis({"XRANGE", store::KeySchema::ExperimentAuditKey(), "-", "+"});
    if (!entries.ok()) return events;
    for (const redis::RedisReply& entry : entries->elements) {
      const auto& fields = entry.elements[1].elements;
      std::string line;
      for (size_t i = 0; i + 1 < fields.size(); i += 2) {
        if (fields[i].str == "event" || fields[i].str == "by") {
          absl::StrAppend(&line, line.empty() ? "" : " ", fields[i + 1].str);
        }
      }
      events.push_back(line);
    }
    return events;
  }

  std::unique_ptr<AppHarness> h_;
  std::unique_ptr<store::KeySchema> keys_;
  std::unique_ptr<redis::RedisClient> redis_;
  std::unique_ptr<experiments::ExperimentWatcher> guard_;
  int orders_ = 0;
};

TEST_F(ExperimentTest, MembersAreSplitByTheHashAndEachArmIsTallied) {
  Start();
  v1::StartExperimentResponse started;
  ASSERT_TRUE(StartExperiment(Request("split", 5000), &started).ok());
  const std::string candidate_version = policy_file::PolicyVersion(Candidate());
  EXPECT_EQ(started.experiment().candidate_version(), candidate_version);
  EXPECT_EQ(started.experiment().started_by(), "risk-lead");
  EXPECT_EQ(started.experiment().state(), v1::EXPERIMENT_STATE_RUNNING);

  int in_candidate = 0;
  constexpr int kMembers = 30;
  for (int i = 0; i < kMembers; ++i) {
    const std::string member = absl::StrCat("m-", i);
    v1::SubmitRatingResponse rated = RateOne(member);
    const bool candidate = experiments::InCandidateArm("split", member, 5000);
    in_candidate += candidate ? 1 : 0;
    EXPECT_EQ(rated.decision().policy_version() == candidate_version, candidate)
        << member;
  }
  ASSERT_GT(in_candidate, 0);
  ASSERT_LT(in_candidate, kMembers);
  v1::GetExperimentResponse got = Get("split");
  EXPECT_EQ(got.candidate().ratings(), in_candidate);
  EXPECT_EQ(got.control().ratings(), kMembers - in_candidate);
  EXPECT_EQ(got.candidate().arm(), "split:candidate");
  EXPECT_EQ(got.candidate().policy_version(), candidate_version);
  // The same rules: every one of these is made good at once in both arms.
  EXPECT_EQ(got.candidate().instant(), in_candidate);
  EXPECT_EQ(got.candidate().refunds(), in_candidate);
  EXPECT_GT(got.candidate().granted_minor().at("EUR"), 0);
  EXPECT_EQ(got.verdict(), v1::EXPERIMENT_VERDICT_NOT_ENOUGH_DATA);

  // One at a time, and a name is never reused.
  v1::StartExperimentResponse refused;
  grpc::Status second = StartExperiment(Request("other", 100), &refused);
  EXPECT_EQ(second.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ErrorReason(second), "EXPERIMENT_RUNNING");

  v1::StopExperimentResponse stopped;
  ASSERT_TRUE(Stop("split", &stopped).ok());
  EXPECT_EQ(stopped.experiment().state(), v1::EXPERIMENT_STATE_STOPPED);
  EXPECT_EQ(stopped.experiment().stopped_by(), "risk-lead");
  // Stopping again changes nothing.
  ASSERT_TRUE(Stop("split", &stopped).ok());
  // Every member is decided by the active policy again.
  v1::SubmitRatingResponse after = RateOne("m-late");
  EXPECT_NE(after.decision().policy_version(), candidate_version);
  grpc::Status reused = StartExperiment(Request("split", 5000), &refused);
  EXPECT_EQ(ErrorReason(reused), "EXPERIMENT_EXISTS");
  EXPECT_THAT(AuditEvents(),
              ::testing::ElementsAre("started risk-lead", "stopped risk-lead"));
}

TEST_F(ExperimentTest, TheMoneyGuardrailStopsTheCandidateByItself) {
  Start();
  v1::StartExperimentRequest request = Request("capped", 9999);
  (*request.mutable_guardrails()
        ->mutable_max_candidate_minor_per_day())["EUR"] = 100;
  v1::StartExperimentResponse started;
  ASSERT_TRUE(StartExperiment(request, &started).ok());
  ASSERT_TRUE(guard_->Poll().ok());
  ASSERT_TRUE(guard_->Guard().ok());
  EXPECT_EQ(Get("capped").experiment().state(), v1::EXPERIMENT_STATE_RUNNING);
  // One refund above the cap, then the guard's next check.
  std::string member;
  for (int i = 0; member.empty(); ++i) {
    if (experiments::InCandidateArm("capped", absl::StrCat("c-", i), 9999)) {
      member = absl::StrCat("c-", i);
    }
  }
  v1::SubmitRatingResponse rated = RateOne(member);
  ASSERT_GT(rated.decision().refund().amount_minor(), 100);
  ASSERT_TRUE(guard_->Guard().ok());
  v1::GetExperimentResponse got = Get("capped");
  EXPECT_EQ(got.experiment().state(), v1::EXPERIMENT_STATE_TRIPPED);
  EXPECT_THAT(got.experiment().stop_reason(), HasSubstr("daily cap of €1.00"));
  EXPECT_EQ(got.experiment().stopped_by(), "guardrail");
  EXPECT_THAT(AuditEvents(), ::testing::ElementsAre("started risk-lead",
                                                    "guardrail_tripped "
                                                    "guardrail"));
  // The serving replica lets go within a poll.
  const std::string candidate_version = policy_file::PolicyVersion(Candidate());
  ASSERT_TRUE(Eventually([&] {
    return RateOne(absl::StrCat("after-", orders_))
               .decision()
               .policy_version() != candidate_version;
  }));
}

TEST_F(ExperimentTest, AbuseCorrectionsOfTheCandidateTripItsCeiling) {
  Start();
  v1::StartExperimentRequest request = Request("leaky", 9999);
  request.mutable_guardrails()->set_max_abuse_percent(20);
  request.mutable_guardrails()->set_min_refunds_for_abuse(3);
  v1::StartExperimentResponse started;
  ASSERT_TRUE(StartExperiment(request, &started).ok());
  ASSERT_TRUE(guard_->Poll().ok());
  std::vector<std::string> refunds;
  for (int i = 0; refunds.size() < 3; ++i) {
    const std::string member = absl::StrCat("l-", i);
    if (!experiments::InCandidateArm("leaky", member, 9999)) continue;
    refunds.push_back(RateOne(member).decision().refund().refund_id());
  }
  auto mark = [&](const std::string& refund_id) {
    v1::MarkRefundAbusiveRequest mark_request;
    mark_request.set_refund_id(refund_id);
    mark_request.set_operator_id("op-1");
    mark_request.set_reason("ring");
    grpc::ClientContext context;
    v1::MarkRefundAbusiveResponse response;
    grpc::Status status = h_->stubs().refunds->MarkRefundAbusive(
        &context, mark_request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  };
  mark(refunds[0]);  // 1 of 3: 33 %.
  ASSERT_TRUE(guard_->Guard().ok());
  v1::GetExperimentResponse got = Get("leaky");
  EXPECT_EQ(got.candidate().abuse_corrections(), 1);
  EXPECT_EQ(got.experiment().state(), v1::EXPERIMENT_STATE_TRIPPED);
  EXPECT_THAT(got.experiment().stop_reason(),
              HasSubstr("33.3 % of the candidate's refunds were marked "
                        "abusive (1 of 3), above its ceiling of 20 %"));
}

TEST_F(ExperimentTest, AVerdictComesFromTheArmsRetention) {
  Start();
  v1::StartExperimentRequest request = Request("keep", 5000);
  request.mutable_guardrails()->set_min_troubles_per_arm(10);
  v1::StartExperimentResponse started;
  ASSERT_TRUE(StartExperiment(request, &started).ok());
  // 24 troubles per arm; only the candidate's members order again.
  std::vector<std::string> reorder;
  int control = 0;
  int candidate = 0;
  for (int i = 0; control < 24 || candidate < 24; ++i) {
    const std::string member = absl::StrCat("k-", i);
    const bool in = experiments::InCandidateArm("keep", member, 5000);
    if ((in && candidate >= 24) || (!in && control >= 24)) continue;
    (in ? candidate : control) += 1;
    RateOne(member);
    if (in) reorder.push_back(member);
  }
  EXPECT_EQ(Get("keep").verdict(), v1::EXPERIMENT_VERDICT_NOT_ENOUGH_DATA);
  h_->clock().Advance(3 * kDay);
  for (const std::string& member : reorder) {
    ASSERT_TRUE(h_->RecordOrder(member, absl::StrCat("again-", member)).ok());
  }
  h_->clock().Advance(28 * kDay);
  retention::Sweeper sweeper(*redis_, *keys_, h_->clock(), {});
  ASSERT_TRUE(sweeper.SweepOnce().ok());
  v1::GetExperimentResponse got = Get("keep");
  EXPECT_EQ(got.verdict(), v1::EXPERIMENT_VERDICT_CANDIDATE_RETAINS_MORE);
  EXPECT_EQ(got.candidate().retention(1).days(), 30);
  EXPECT_EQ(got.candidate().retention(1).troubles(), 24);
  EXPECT_EQ(got.candidate().retention(1).reordered(), 24);
  EXPECT_EQ(got.control().retention(1).reordered(), 0);
  EXPECT_THAT(got.verdict_text(),
              HasSubstr("The candidate keeps more members: 100.0 %"));
}

TEST_F(ExperimentTest, BadStartsAreRefusedAndChangeNothing) {
  Start();
  v1::StartExperimentRequest request;
  request.set_name("Bad Name");
  request.set_candidate_share_bp(0);
  request.set_candidate_text("name: \"x\" tiers {");
  (*request.mutable_guardrails()
        ->mutable_max_candidate_minor_per_day())["eur"] = 5;
  request.mutable_guardrails()->set_max_abuse_percent(101);
  auto before = h_->Snapshot();
  v1::StartExperimentResponse response;
  grpc::Status status = StartExperiment(request, &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(status),
              IsSupersetOf({"name", "candidate_share_bp", "candidate_text",
                            "guardrails.max_candidate_minor_per_day[eur]",
                            "guardrails.max_abuse_percent"}));
  // A candidate that would strand members of a currency the active serves.
  v1::StartExperimentRequest narrow = Request("narrow", 100);
  v1::Policy policy = Candidate();
  ASSERT_GT(policy.markets_size(), 1);
  policy.mutable_markets()->RemoveLast();
  *narrow.mutable_candidate() = policy;
  status = StartExperiment(narrow, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("lacks currency"));
  EXPECT_EQ(h_->Snapshot(), before);
}

}  // namespace
}  // namespace makegood
