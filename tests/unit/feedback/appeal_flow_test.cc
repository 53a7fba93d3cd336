// AppealFlow without gRPC and without Redis: FakeRedis answers the appeal
// scripts with their typed replies; the tests check what the flow sends
// (the partner from the principal, the fingerprint, the decision, the
// actor) and what each answer means to the caller.
#include "services/feedback/appeal_flow.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/errors/errors.h"
#include "services/feedback/appeal_record.h"
#include "services/feedback/decide_appeal_script.h"
#include "services/feedback/file_appeal_script.h"
#include "services/feedback/read_appeal_script.h"
#include "services/store/key_schema.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_redis.h"

namespace makegood::feedback {
namespace {

using ::makegood::testing::FakeRedis;
using ::testing::HasSubstr;

constexpr char kAppealId[] = "ap_5_0123456789abcdef01234567_2";
const absl::Time kNow = absl::FromUnixMillis(1'780'000'000'123);

auth::Principal Who(std::string id, auth::RoleSet roles) {
  auth::Principal p;
  p.id = std::move(id);
  p.roles = roles;
  p.kind = auth::AuthKind::kApiKey;
  return p;
}

const auth::Principal kCourier =
    Who("courier:courier-1", {auth::Role::kPartner});
const auth::Principal kAgent = Who("support-desk", {auth::Role::kAgent});

v1::Appeal Appeal(v1::AppealState state = v1::APPEAL_STATE_OPEN) {
  v1::Appeal a;
  a.set_appeal_id(kAppealId);
  a.set_state(state);
  a.set_feedback_kind(v1::FEEDBACK_KIND_COURIER);
  a.set_target_id("courier-1");
  a.set_partner_id("courier:courier-1");
  a.mutable_created_at()->set_seconds(1'780'000'000);
  return a;
}

v1::AppealFeedbackRequest FileRequest(const std::string& key = "a-1",
                                      const std::string& reason = "on_time") {
  v1::AppealFeedbackRequest r;
  r.set_idempotency_key(key);
  r.set_appeal_id(kAppealId);
  r.set_reason(reason);
  r.set_comment("GPS says so");
  return r;
}

v1::DecideAppealRequest DecideRequest(v1::AppealDecision decision) {
  v1::DecideAppealRequest r;
  r.set_idempotency_key("d-1");
  r.set_appeal_id(kAppealId);
  r.set_decision(decision);
  r.set_agent_id("agent-7");
  r.set_reason("gps_confirms");
  return r;
}

// The result a flow call delivered (the flow answers inline on FakeRedis).
template <typename Response>
struct Result {
  std::optional<absl::StatusOr<Response>> got;
  auto Done() {
    return [this](absl::StatusOr<Response> r) { got = std::move(r); };
  }
  const absl::Status status() const { return got->status(); }
};

class AppealFlowTest : public ::testing::Test {
 protected:
  FakeRedis redis_;
  store::KeySchema keys_ = *store::KeySchema::Create(64);
  testing::FakeClock clock_{kNow};
  AppealFlow flow_{redis_, keys_, clock_};

  absl::StatusOr<v1::AppealFeedbackResponse> File(
      const auth::Principal& who, const v1::AppealFeedbackRequest& r) {
    Result<v1::AppealFeedbackResponse> result;
    flow_.File(who, r, result.Done());
    EXPECT_TRUE(result.got.has_value());
    return *result.got;
  }
  absl::StatusOr<v1::DecideAppealResponse> Decide(
      const auth::Principal& who, const v1::DecideAppealRequest& r) {
    Result<v1::DecideAppealResponse> result;
    flow_.Decide(who, r, result.Done());
    EXPECT_TRUE(result.got.has_value());
    return *result.got;
  }
  absl::StatusOr<v1::GetAppealResponse> Get(const auth::Principal& who) {
    v1::GetAppealRequest r;
    r.set_appeal_id(kAppealId);
    r.set_include_events(true);
    Result<v1::GetAppealResponse> result;
    flow_.Get(who, r, result.Done());
    EXPECT_TRUE(result.got.has_value());
    return *result.got;
  }
};

TEST_F(AppealFlowTest, FilesForThePartnerThePrincipalNames) {
  FileAppealReply ok;
  ok.appeal = Appeal();
  redis_.Answer("file_appeal", ok.ToReply());
  absl::StatusOr<v1::AppealFeedbackResponse> filed =
      File(kCourier, FileRequest());
  ASSERT_TRUE(filed.ok()) << filed.status();
  EXPECT_FALSE(filed->replayed());
  EXPECT_EQ(filed->appeal().SerializeAsString(), Appeal().SerializeAsString());

  ASSERT_EQ(redis_.calls("file_appeal").size(), 1u);
  const FakeRedis::Call call = redis_.calls("file_appeal")[0];
  absl::StatusOr<FileAppealRequest> sent =
      FileAppealRequest::Parse(call.keys, call.args);
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(sent->partner.feedback_kind, "courier_feedback");
  EXPECT_EQ(sent->partner.target_id, "courier-1");
  EXPECT_EQ(sent->caller, "courier:courier-1");
  EXPECT_EQ(sent->rating_id, "rt_5_0123456789abcdef01234567");
  EXPECT_EQ(sent->appeal_key, keys_.AppealKey(5, kAppealId));
  EXPECT_EQ(sent->now_ms, absl::ToUnixMillis(kNow));
  EXPECT_EQ(sent->idempotency_key, "a-1");
}

TEST_F(AppealFlowTest, TheFingerprintIsTheBusinessFieldsNotTheKey) {
  redis_.On("file_appeal", [](const FakeRedis::Call&) {
    FileAppealReply ok;
    ok.appeal = Appeal();
    return ok.ToReply();
  });
  ASSERT_TRUE(File(kCourier, FileRequest("a-1")).ok());
  ASSERT_TRUE(File(kCourier, FileRequest("a-2")).ok());
  ASSERT_TRUE(File(kCourier, FileRequest("a-1", "other_reason")).ok());
  auto fp = [&](int i) {
    const FakeRedis::Call call = redis_.calls("file_appeal")[i];
    return FileAppealRequest::Parse(call.keys, call.args)->fingerprint;
  };
  EXPECT_EQ(fp(0), fp(1));
  EXPECT_NE(fp(0), fp(2));
  EXPECT_EQ(fp(0).size(), 64u);
}

TEST_F(AppealFlowTest, AReplayIsMarkedReplayed) {
  FileAppealReply replay;
  replay.outcome = FileAppealReply::kReplay;
  replay.appeal = Appeal();
  redis_.Answer("file_appeal", replay.ToReply());
  absl::StatusOr<v1::AppealFeedbackResponse> filed =
      File(kCourier, FileRequest());
  ASSERT_TRUE(filed.ok());
  EXPECT_TRUE(filed->replayed());
}

TEST_F(AppealFlowTest, EachRefusalOfTheScriptHasItsCodeAndReason) {
  struct Case {
    FileAppealReply::Outcome outcome;
    absl::StatusCode code;
    const char* reason;
  };
  for (const Case& c : {
           Case{FileAppealReply::kExists, absl::StatusCode::kAlreadyExists,
                "APPEAL_EXISTS"},
           Case{FileAppealReply::kReused, absl::StatusCode::kFailedPrecondition,
                "IDEMPOTENCY_KEY_REUSED"},
           Case{FileAppealReply::kNoFeedback, absl::StatusCode::kNotFound,
                "FEEDBACK_NOT_FOUND"},
           Case{FileAppealReply::kNotTarget,
                absl::StatusCode::kPermissionDenied, "NOT_FEEDBACK_TARGET"},
           Case{FileAppealReply::kReversed,
                absl::StatusCode::kFailedPrecondition,
                "FEEDBACK_ALREADY_REVERSED"},
       }) {
    FileAppealReply reply;
    reply.outcome = c.outcome;
    if (c.outcome == FileAppealReply::kExists) reply.appeal = Appeal();
    if (c.outcome == FileAppealReply::kReversed) {
      reply.reversed_by = v1::FEEDBACK_REVERSAL_CLAIM_ABUSIVE;
    }
    redis_.Answer("file_appeal", reply.ToReply());
    absl::StatusOr<v1::AppealFeedbackResponse> filed =
        File(kCourier, FileRequest());
    EXPECT_EQ(filed.status().code(), c.code) << c.reason;
    EXPECT_EQ(ErrorReason(filed.status()), c.reason);
    if (c.outcome == FileAppealReply::kReversed) {
      EXPECT_THAT(filed.status().message(), HasSubstr("abusive"));
    }
  }
}

TEST_F(AppealFlowTest, APrincipalThatNamesNoPartnerIsDeniedBeforeRedis) {
  for (const char* id : {"courier-1", "app-backend-eu", "store:"}) {
    absl::StatusOr<v1::AppealFeedbackResponse> filed =
        File(Who(id, {auth::Role::kPartner}), FileRequest());
    EXPECT_EQ(filed.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(ErrorReason(filed.status()), "PARTNER_ID_UNMAPPED");
  }
  EXPECT_TRUE(redis_.calls().empty());
}

TEST_F(AppealFlowTest, AnAppealIdOfAnotherDeploymentIsRefusedBeforeRedis) {
  v1::AppealFeedbackRequest r = FileRequest();
  r.set_appeal_id("ap_99_0123456789abcdef01234567_2");  // 64 partitions.
  EXPECT_EQ(File(kCourier, r).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(redis_.calls().empty());
}

TEST_F(AppealFlowTest, RedisTroubleIsUnavailable) {
  redis_.Inject("file_appeal", FakeRedis::Fault::kTimeout);
  EXPECT_EQ(File(kCourier, FileRequest()).status().code(),
            absl::StatusCode::kUnavailable);
  redis_.Answer("file_appeal", testing::Reply("nonsense"));
  EXPECT_EQ(File(kCourier, FileRequest()).status().code(),
            absl::StatusCode::kInternal);
}

TEST_F(AppealFlowTest, DecidesAsTheAgentAndReportsTheReversal) {
  DecideAppealReply ok;
  ok.appeal = Appeal(v1::APPEAL_STATE_UPHELD);
  ok.reversed_now = true;
  redis_.Answer("decide_appeal", ok.ToReply());
  absl::StatusOr<v1::DecideAppealResponse> decided =
      Decide(kAgent, DecideRequest(v1::APPEAL_DECISION_UPHOLD));
  ASSERT_TRUE(decided.ok()) << decided.status();
  EXPECT_TRUE(decided->feedback_reversed());
  EXPECT_FALSE(decided->replayed());
  EXPECT_EQ(decided->appeal().state(), v1::APPEAL_STATE_UPHELD);

  const FakeRedis::Call call = redis_.calls("decide_appeal")[0];
  absl::StatusOr<DecideAppealRequest> sent =
      DecideAppealRequest::Parse(call.keys, call.args);
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(sent->decision, "upheld");
  EXPECT_EQ(sent->actor, "agent:agent-7");
  EXPECT_EQ(sent->caller, "support-desk");
  EXPECT_EQ(sent->reason, "gps_confirms");
  EXPECT_EQ(sent->feedback_key, keys_.FeedbackKey(5));
  EXPECT_EQ(sent->rating_key,
            keys_.RatingKey(5, "rt_5_0123456789abcdef01234567"));

  // Rejecting sends "rejected"; another decision has another fingerprint.
  redis_.Answer("decide_appeal", ok.ToReply());
  ASSERT_TRUE(Decide(kAgent, DecideRequest(v1::APPEAL_DECISION_REJECT)).ok());
  const FakeRedis::Call reject = redis_.calls("decide_appeal")[1];
  absl::StatusOr<DecideAppealRequest> rejected =
      DecideAppealRequest::Parse(reject.keys, reject.args);
  EXPECT_EQ(rejected->decision, "rejected");
  EXPECT_NE(rejected->fingerprint, sent->fingerprint);
}

TEST_F(AppealFlowTest, DecisionsMadeBeforeAnswerOrRefuse) {
  for (DecideAppealReply::Outcome outcome :
       {DecideAppealReply::kReplay, DecideAppealReply::kAlready}) {
    DecideAppealReply reply;
    reply.outcome = outcome;
    reply.appeal = Appeal(v1::APPEAL_STATE_UPHELD);
    redis_.Answer("decide_appeal", reply.ToReply());
    absl::StatusOr<v1::DecideAppealResponse> decided =
        Decide(kAgent, DecideRequest(v1::APPEAL_DECISION_UPHOLD));
    ASSERT_TRUE(decided.ok());
    EXPECT_TRUE(decided->replayed());
    EXPECT_FALSE(decided->feedback_reversed());
  }
  struct Case {
    DecideAppealReply::Outcome outcome;
    absl::StatusCode code;
    const char* reason;
  };
  for (const Case& c : {
           Case{DecideAppealReply::kConflict,
                absl::StatusCode::kFailedPrecondition,
                "APPEAL_ALREADY_DECIDED"},
           Case{DecideAppealReply::kMissing, absl::StatusCode::kNotFound,
                "APPEAL_NOT_FOUND"},
           Case{DecideAppealReply::kReused,
                absl::StatusCode::kFailedPrecondition,
                "IDEMPOTENCY_KEY_REUSED"},
       }) {
    DecideAppealReply reply;
    reply.outcome = c.outcome;
    if (c.outcome == DecideAppealReply::kConflict) {
      reply.appeal = Appeal(v1::APPEAL_STATE_REJECTED);
    }
    redis_.Answer("decide_appeal", reply.ToReply());
    absl::StatusOr<v1::DecideAppealResponse> decided =
        Decide(kAgent, DecideRequest(v1::APPEAL_DECISION_UPHOLD));
    EXPECT_EQ(decided.status().code(), c.code) << c.reason;
    EXPECT_EQ(ErrorReason(decided.status()), c.reason);
  }
}

TEST_F(AppealFlowTest, APartnerReadsOnlyItsOwnAppeals) {
  redis_.On("read_appeal", [](const FakeRedis::Call&) {
    std::vector<redis::RedisReply> fields = AppealToFields(Appeal());
    std::vector<redis::RedisReply> e = {
        testing::Reply("OK"), testing::Reply(""),
        testing::Reply(std::to_string(fields.size()))};
    e.insert(e.end(), fields.begin(), fields.end());
    return testing::Reply(std::move(e));
  });
  EXPECT_TRUE(Get(kCourier).ok());
  EXPECT_TRUE(Get(kAgent).ok());
  EXPECT_TRUE(Get(Who("ops", {auth::Role::kAdmin})).ok());
  for (const char* other : {"courier:courier-2", "store:courier-1"}) {
    absl::StatusOr<v1::GetAppealResponse> got =
        Get(Who(other, {auth::Role::kPartner}));
    EXPECT_EQ(got.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(ErrorReason(got.status()), "NOT_FEEDBACK_TARGET");
  }
  const int reads = redis_.count("read_appeal");
  EXPECT_EQ(Get(Who("nobody", {auth::Role::kPartner})).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(redis_.count("read_appeal"), reads) << "denied before Redis";

  redis_.Answer("read_appeal", testing::Reply({testing::Reply("MISSING")}));
  absl::StatusOr<v1::GetAppealResponse> missing = Get(kAgent);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorReason(missing.status()), "APPEAL_NOT_FOUND");
}

}  // namespace
}  // namespace makegood::feedback
