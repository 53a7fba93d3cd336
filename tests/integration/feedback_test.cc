// FeedbackService through gRPC against real Redis: a partner appeals the
// feedback a rating sent, an agent upholds or rejects it, and an upheld
// appeal reverses the feedback on the feedback stream exactly as an abuse
// correction does, exactly once, also when the two race; retries are
// idempotent, refusals change nothing.
//
// The harness runs in insecure development mode: the caller is named by
// x-client-id and holds every role, so a partner is "store:<id>" or
// "courier:<id>" there as its principal id is in production.
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "makegood/v1/feedback_service.grpc.pb.h"
#include "services/store/key_schema.h"
#include "tests/testing/app_harness.h"
#include "tests/testing/grpc_status.h"

namespace makegood {
namespace {

using ::makegood::testing::AppHarness;
using ::makegood::testing::ErrorReason;
using ::makegood::testing::ViolatedFields;
using ::testing::UnorderedElementsAre;

constexpr char kCourier[] = "courier:courier-1";
constexpr char kStore[] = "store:store-1";

using Entry = std::map<std::string, std::string>;

std::vector<Entry> StreamEntries(const redis::RedisReply& reply) {
  std::vector<Entry> out;
  for (const auto& entry : reply.elements) {
    if (entry.elements.size() < 2) continue;
    Entry fields;
    const auto& f = entry.elements[1].elements;
    for (size_t i = 0; i + 1 < f.size(); i += 2)
      fields[f[i].str] = f[i + 1].str;
    out.push_back(std::move(fields));
  }
  return out;
}

class FeedbackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto h = AppHarness::Create();
    ASSERT_TRUE(h.ok()) << h.status();
    h_ = *std::move(h);
    ASSERT_TRUE(h_->StartApp().ok());
    keys_ = std::make_unique<store::KeySchema>(
        *store::KeySchema::Create(h_->config().partitions));
    feedback_ = v1::FeedbackService::NewStub(h_->stubs().channel);
  }

  int P(const std::string& member = "m-1") {
    return keys_->PartitionOf(member);
  }

  // Rates a fresh order of `member` at 10 % (late, damaged): feedback to the
  // courier and the store. Returns the rating's refund id.
  std::string Rate(const std::string& member = "m-1",
                   const std::string& order = "o-1") {
    EXPECT_TRUE(h_->UpsertMember(member).ok());
    EXPECT_TRUE(h_->RecordOrder(member, order).ok());
    v1::SubmitRatingRequest request =
        testing::MeltedRating(absl::StrCat("k-", order), member, order, 10);
    request.add_reasons(v1::REASON_LATE);
    request.add_reasons(v1::REASON_DAMAGED);
    v1::SubmitRatingResponse response;
    grpc::ClientContext context;
    grpc::Status status =
        h_->stubs().ratings->SubmitRating(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.decision().refund().refund_id();
  }

  std::vector<Entry> Feedback(const std::string& member = "m-1") {
    return StreamEntries(
        *h_->Redis({"XRANGE", keys_->FeedbackKey(P(member)), "-", "+"}));
  }

  // The appeal id of the feedback of `kind` about the member's order.
  std::string AppealIdOf(const std::string& kind,
                         const std::string& member = "m-1") {
    for (Entry& e : Feedback(member)) {
      if (e["kind"] == kind) return e["appeal_id"];
    }
    ADD_FAILURE() << "no " << kind;
    return "";
  }

  // Reversal events of one feedback item.
  std::vector<Entry> Reversals(const std::string& appeal_id,
                               const std::string& member = "m-1") {
    std::vector<Entry> out;
    for (Entry& e : Feedback(member)) {
      if (e["kind"] == "feedback_reversed" && e["appeal_id"] == appeal_id) {
        out.push_back(e);
      }
    }
    return out;
  }

  grpc::Status Appeal(const std::string& partner, const std::string& key,
                      const std::string& appeal_id,
                      v1::AppealFeedbackResponse* response,
                      const std::string& reason = "delivered_on_time") {
    v1::AppealFeedbackRequest request;
    request.set_idempotency_key(key);
    request.set_appeal_id(appeal_id);
    request.set_reason(reason);
    request.set_comment("GPS shows the drop-off at 12:03");
    grpc::ClientContext context;
    context.AddMetadata("x-client-id", partner);
    return feedback_->AppealFeedback(&context, request, response);
  }

  grpc::Status Decide(const std::string& key, const std::string& appeal_id,
                      v1::AppealDecision decision,
                      v1::DecideAppealResponse* response) {
    v1::DecideAppealRequest request;
    request.set_idempotency_key(key);
    request.set_appeal_id(appeal_id);
    request.set_decision(decision);
    request.set_agent_id("agent-7");
    request.set_reason("gps_confirms");
    grpc::ClientContext context;
    context.AddMetadata("x-client-id", "support-desk");
    return feedback_->DecideAppeal(&context, request, response);
  }

  grpc::Status MarkAbusive(const std::string& refund_id,
                           v1::MarkRefundAbusiveResponse* response) {
    v1::MarkRefundAbusiveRequest mark;
    mark.set_refund_id(refund_id);
    mark.set_operator_id("op-7");
    mark.set_reason("photo_reused");
    grpc::ClientContext context;
    return h_->stubs().refunds->MarkRefundAbusive(&context, mark, response);
  }

  v1::GetAppealResponse Get(const std::string& appeal_id) {
    v1::GetAppealRequest request;
    request.set_appeal_id(appeal_id);
    request.set_include_events(true);
    v1::GetAppealResponse response;
    grpc::ClientContext context;
    grpc::Status status = feedback_->GetAppeal(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  std::unique_ptr<AppHarness> h_;
  std::unique_ptr<store::KeySchema> keys_;
  std::unique_ptr<v1::FeedbackService::Stub> feedback_;
};

TEST_F(FeedbackTest, UpheldAppealReversesTheFeedbackOnceEndToEnd) {
  const std::string refund_id = Rate();
  const std::vector<Entry> before = Feedback();
  ASSERT_EQ(before.size(), 2u);
  const std::string appeal_id = AppealIdOf("courier_feedback");

  v1::AppealFeedbackResponse filed;
  ASSERT_TRUE(Appeal(kCourier, "a-1", appeal_id, &filed).ok());
  EXPECT_FALSE(filed.replayed());
  EXPECT_EQ(filed.appeal().state(), v1::APPEAL_STATE_OPEN);
  EXPECT_EQ(filed.appeal().feedback_kind(), v1::FEEDBACK_KIND_COURIER);
  EXPECT_EQ(filed.appeal().target_id(), "courier-1");
  EXPECT_EQ(filed.appeal().partner_id(), kCourier);
  EXPECT_EQ(filed.appeal().order_id(), "o-1");
  // The agents get a task.
  auto tasks =
      StreamEntries(*h_->Redis({"XRANGE", keys_->TasksKey(P()), "-", "+"}));
  int reviews = 0;
  for (Entry& t : tasks) {
    if (t["kind"] == "appeal_review" && t["appeal_id"] == appeal_id) ++reviews;
  }
  EXPECT_EQ(reviews, 1);
  EXPECT_EQ(Feedback().size(), before.size()) << "filing reverses nothing";

  v1::DecideAppealResponse decided;
  ASSERT_TRUE(
      Decide("d-1", appeal_id, v1::APPEAL_DECISION_UPHOLD, &decided).ok());
  EXPECT_FALSE(decided.replayed());
  EXPECT_TRUE(decided.feedback_reversed());
  EXPECT_EQ(decided.appeal().state(), v1::APPEAL_STATE_UPHELD);
  EXPECT_EQ(decided.appeal().decided_by(), "agent:agent-7");
  EXPECT_EQ(decided.appeal().reversed_by(),
            v1::FEEDBACK_REVERSAL_APPEAL_UPHELD);

  // The same reversal event an abuse correction writes.
  std::vector<Entry> reversals = Reversals(appeal_id);
  ASSERT_EQ(reversals.size(), 1u);
  EXPECT_EQ(reversals[0]["reversed_kind"], "courier_feedback");
  EXPECT_EQ(reversals[0]["target_id"], "courier-1");
  EXPECT_EQ(reversals[0]["order_id"], "o-1");
  EXPECT_EQ(reversals[0]["rating_id"], before[0].at("rating_id"));
  EXPECT_EQ(reversals[0]["reason_codes"], "appeal_upheld");
  EXPECT_EQ(Feedback().size(), before.size() + 1);

  // Retried, and decided again the same way under another key: the same
  // answer, nothing more.
  v1::DecideAppealResponse again;
  ASSERT_TRUE(
      Decide("d-1", appeal_id, v1::APPEAL_DECISION_UPHOLD, &again).ok());
  EXPECT_TRUE(again.replayed());
  EXPECT_FALSE(again.feedback_reversed());
  EXPECT_EQ(again.appeal().state(), v1::APPEAL_STATE_UPHELD);
  ASSERT_TRUE(
      Decide("d-2", appeal_id, v1::APPEAL_DECISION_UPHOLD, &again).ok());
  EXPECT_TRUE(again.replayed());
  // The other way: refused.
  grpc::Status other =
      Decide("d-3", appeal_id, v1::APPEAL_DECISION_REJECT, &again);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ErrorReason(other), "APPEAL_ALREADY_DECIDED");
  EXPECT_EQ(Reversals(appeal_id).size(), 1u);

  // An abuse correction afterwards reverses only the store's feedback.
  v1::MarkRefundAbusiveResponse marked;
  ASSERT_TRUE(MarkAbusive(refund_id, &marked).ok());
  EXPECT_EQ(marked.feedback_reversed(), 1);
  EXPECT_EQ(Reversals(appeal_id).size(), 1u);
  EXPECT_EQ(Reversals(AppealIdOf("store_feedback")).size(), 1u);

  // The audit trail: who, when, why.
  v1::GetAppealResponse got = Get(appeal_id);
  EXPECT_EQ(got.appeal().state(), v1::APPEAL_STATE_UPHELD);
  ASSERT_EQ(got.events_size(), 2);
  EXPECT_EQ(got.events(0).to(), v1::APPEAL_STATE_OPEN);
  EXPECT_EQ(got.events(0).actor(), kCourier);
  EXPECT_EQ(got.events(0).reason(), "delivered_on_time");
  EXPECT_EQ(got.events(1).from(), v1::APPEAL_STATE_OPEN);
  EXPECT_EQ(got.events(1).to(), v1::APPEAL_STATE_UPHELD);
  EXPECT_EQ(got.events(1).actor(), "agent:agent-7");
  EXPECT_EQ(got.events(1).caller(), "support-desk");
  EXPECT_EQ(got.events(1).reason(), "gps_confirms");
  EXPECT_EQ(got.events(1).at().seconds(), testing::kHarnessNowSeconds);
}

TEST_F(FeedbackTest, RejectedAppealLeavesTheFeedbackStanding) {
  Rate();
  const std::string appeal_id = AppealIdOf("store_feedback");
  v1::AppealFeedbackResponse filed;
  ASSERT_TRUE(Appeal(kStore, "a-1", appeal_id, &filed).ok());
  v1::DecideAppealResponse decided;
  ASSERT_TRUE(
      Decide("d-1", appeal_id, v1::APPEAL_DECISION_REJECT, &decided).ok());
  EXPECT_EQ(decided.appeal().state(), v1::APPEAL_STATE_REJECTED);
  EXPECT_FALSE(decided.feedback_reversed());
  EXPECT_EQ(decided.appeal().reversed_by(), v1::FEEDBACK_REVERSAL_UNSPECIFIED);
  EXPECT_TRUE(Reversals(appeal_id).empty());
  grpc::Status uphold =
      Decide("d-2", appeal_id, v1::APPEAL_DECISION_UPHOLD, &decided);
  EXPECT_EQ(uphold.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ErrorReason(uphold), "APPEAL_ALREADY_DECIDED");
  EXPECT_TRUE(Reversals(appeal_id).empty());
}

TEST_F(FeedbackTest, FilingIsIdempotentPerKey) {
  Rate();
  const std::string appeal_id = AppealIdOf("courier_feedback");
  v1::AppealFeedbackResponse first, retry;
  ASSERT_TRUE(Appeal(kCourier, "a-1", appeal_id, &first).ok());
  auto snapshot = h_->Snapshot();
  ASSERT_TRUE(Appeal(kCourier, "a-1", appeal_id, &retry).ok());
  EXPECT_TRUE(retry.replayed());
  EXPECT_EQ(retry.appeal().SerializeAsString(),
            first.appeal().SerializeAsString());

  grpc::Status reused =
      Appeal(kCourier, "a-1", appeal_id, &retry, "other_reason");
  EXPECT_EQ(reused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ErrorReason(reused), "IDEMPOTENCY_KEY_REUSED");
  grpc::Status twice = Appeal(kCourier, "a-2", appeal_id, &retry);
  EXPECT_EQ(twice.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(ErrorReason(twice), "APPEAL_EXISTS");
  EXPECT_EQ(h_->Snapshot(), snapshot);

  // A decision retried with its key but another payload is refused too.
  v1::DecideAppealResponse decided;
  ASSERT_TRUE(
      Decide("d-1", appeal_id, v1::APPEAL_DECISION_REJECT, &decided).ok());
  grpc::Status decision_reused =
      Decide("d-1", appeal_id, v1::APPEAL_DECISION_UPHOLD, &decided);
  EXPECT_EQ(decision_reused.error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ErrorReason(decision_reused), "IDEMPOTENCY_KEY_REUSED");
}

TEST_F(FeedbackTest, OnlyThePartnerTheFeedbackIsAboutMayAppeal) {
  Rate();
  const std::string appeal_id = AppealIdOf("courier_feedback");
  auto snapshot = h_->Snapshot();
  v1::AppealFeedbackResponse response;
  for (const char* partner : {"courier:courier-2", "store:courier-1"}) {
    grpc::Status status = Appeal(partner, "a-1", appeal_id, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << partner;
    EXPECT_EQ(ErrorReason(status), "NOT_FEEDBACK_TARGET") << partner;
  }
  grpc::Status unmapped = Appeal("courier-1", "a-1", appeal_id, &response);
  EXPECT_EQ(unmapped.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ErrorReason(unmapped), "PARTNER_ID_UNMAPPED");
  EXPECT_EQ(h_->Snapshot(), snapshot);
}

TEST_F(FeedbackTest, BadInputAndUnknownIdsChangeNothing) {
  Rate();
  const std::string appeal_id = AppealIdOf("courier_feedback");
  auto snapshot = h_->Snapshot();
  v1::AppealFeedbackResponse response;
  grpc::Status bad = Appeal(kCourier, "", "ap_x", &response, "Not A Code");
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(bad),
              UnorderedElementsAre("idempotency_key", "appeal_id", "reason"));
  v1::DecideAppealResponse decided;
  grpc::Status bad_decision =
      Decide("d-1", appeal_id, v1::APPEAL_DECISION_UNSPECIFIED, &decided);
  EXPECT_EQ(bad_decision.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(bad_decision), UnorderedElementsAre("decision"));

  // Well-formed ids nobody issued.
  std::string unknown = appeal_id;
  unknown.back() = '9';
  grpc::Status no_feedback = Appeal(kCourier, "a-1", unknown, &response);
  EXPECT_EQ(no_feedback.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ErrorReason(no_feedback), "FEEDBACK_NOT_FOUND");
  grpc::Status no_appeal =
      Decide("d-1", appeal_id, v1::APPEAL_DECISION_UPHOLD, &decided);
  EXPECT_EQ(no_appeal.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ErrorReason(no_appeal), "APPEAL_NOT_FOUND");
  EXPECT_EQ(h_->Snapshot(), snapshot);
}

TEST_F(FeedbackTest, AppealOfFeedbackAnAbuseCorrectionReversedIsAnswered) {
  const std::string refund_id = Rate();
  const std::string appeal_id = AppealIdOf("courier_feedback");
  v1::MarkRefundAbusiveResponse marked;
  ASSERT_TRUE(MarkAbusive(refund_id, &marked).ok());
  EXPECT_EQ(marked.feedback_reversed(), 2);
  v1::AppealFeedbackResponse response;
  grpc::Status status = Appeal(kCourier, "a-1", appeal_id, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ErrorReason(status), "FEEDBACK_ALREADY_REVERSED");
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("abusive"));
  EXPECT_EQ(Reversals(appeal_id).size(), 1u);
}

// A claim marked abusive before reversals were marked per item (the rating
// keeps no rev:<appeal id>) reversed every feedback item: an appeal finds it
// reversed, and upholding one filed earlier reverses nothing again.
TEST_F(FeedbackTest, AnAbuseMarkFromBeforeAppealsCountsAsTheReversal) {
  const std::string refund_id = Rate();
  const std::string courier = AppealIdOf("courier_feedback");
  const std::string store = AppealIdOf("store_feedback");
  v1::AppealFeedbackResponse filed;
  ASSERT_TRUE(Appeal(kStore, "a-1", store, &filed).ok());
  v1::MarkRefundAbusiveResponse marked;
  ASSERT_TRUE(MarkAbusive(refund_id, &marked).ok());
  const std::string rating_key =
      keys_->RatingKey(P(), filed.appeal().rating_id());
  // As the mark of an older release left it.
  ASSERT_TRUE(
      h_->Redis({"HDEL", rating_key, "rev:" + courier, "rev:" + store}).ok());

  grpc::Status late = Appeal(kCourier, "a-2", courier, &filed);
  EXPECT_EQ(ErrorReason(late), "FEEDBACK_ALREADY_REVERSED");
  v1::DecideAppealResponse decided;
  ASSERT_TRUE(Decide("d-1", store, v1::APPEAL_DECISION_UPHOLD, &decided).ok());
  EXPECT_FALSE(decided.feedback_reversed());
  EXPECT_EQ(decided.appeal().reversed_by(),
            v1::FEEDBACK_REVERSAL_CLAIM_ABUSIVE);
  EXPECT_EQ(Reversals(store).size(), 1u);
  EXPECT_EQ(Get(store).appeal().reversed_by(),
            v1::FEEDBACK_REVERSAL_CLAIM_ABUSIVE);
}

// An agent upholds while an operator marks the claim abusive, many times
// over: whichever runs first writes the reversal, the other records it, and
// the feedback is reversed exactly once.
TEST_F(FeedbackTest, UpholdRacingAnAbuseCorrectionReversesOnce) {
  constexpr int kRounds = 12;
  for (int round = 0; round < kRounds; ++round) {
    const std::string member = absl::StrCat("m-", round);
    const std::string order = absl::StrCat("o-", round);
    const std::string refund_id = Rate(member, order);
    std::string appeal_id;
    for (Entry& e : Feedback(member)) {
      if (e["kind"] == "courier_feedback" && e["order_id"] == order) {
        appeal_id = e["appeal_id"];
      }
    }
    ASSERT_FALSE(appeal_id.empty());
    v1::AppealFeedbackResponse filed;
    ASSERT_TRUE(Appeal(kCourier, "a-1", appeal_id, &filed).ok());

    v1::DecideAppealResponse decided;
    v1::MarkRefundAbusiveResponse marked;
    grpc::Status decide_status, mark_status;
    std::thread agent([&] {
      decide_status =
          Decide("d-1", appeal_id, v1::APPEAL_DECISION_UPHOLD, &decided);
    });
    std::thread operator_(
        [&] { mark_status = MarkAbusive(refund_id, &marked); });
    agent.join();
    operator_.join();
    ASSERT_TRUE(decide_status.ok()) << decide_status.error_message();
    ASSERT_TRUE(mark_status.ok()) << mark_status.error_message();

    std::vector<Entry> reversals = Reversals(appeal_id, member);
    ASSERT_EQ(reversals.size(), 1u) << "round " << round;
    // The store's feedback is the correction's alone; the courier's went to
    // whichever came first, and the answers agree with the stream.
    EXPECT_EQ(marked.feedback_reversed(), decided.feedback_reversed() ? 1 : 2);
    EXPECT_EQ(decided.appeal().state(), v1::APPEAL_STATE_UPHELD);
    const std::string by = reversals[0]["reason_codes"];
    EXPECT_EQ(by,
              decided.feedback_reversed() ? "appeal_upheld" : "claim_abusive");
    EXPECT_EQ(decided.appeal().reversed_by(),
              decided.feedback_reversed()
                  ? v1::FEEDBACK_REVERSAL_APPEAL_UPHELD
                  : v1::FEEDBACK_REVERSAL_CLAIM_ABUSIVE);
    EXPECT_EQ(Get(appeal_id).appeal().reversed_by(),
              decided.appeal().reversed_by());
  }
}

// Two agents decide one appeal at once, the opposite ways: one decision
// wins, the other is refused, and the stream agrees with the winner.
TEST_F(FeedbackTest, ConcurrentOppositeDecisionsDecideOnce) {
  constexpr int kRounds = 12;
  for (int round = 0; round < kRounds; ++round) {
    const std::string member = absl::StrCat("m-", round);
    const std::string order = absl::StrCat("o-", round);
    Rate(member, order);
    std::string appeal_id;
    for (Entry& e : Feedback(member)) {
      if (e["kind"] == "store_feedback" && e["order_id"] == order) {
        appeal_id = e["appeal_id"];
      }
    }
    v1::AppealFeedbackResponse filed;
    ASSERT_TRUE(Appeal(kStore, "a-1", appeal_id, &filed).ok());
    v1::DecideAppealResponse upheld, rejected;
    grpc::Status uphold_status, reject_status;
    std::thread a([&] {
      uphold_status =
          Decide("d-up", appeal_id, v1::APPEAL_DECISION_UPHOLD, &upheld);
    });
    std::thread b([&] {
      reject_status =
          Decide("d-no", appeal_id, v1::APPEAL_DECISION_REJECT, &rejected);
    });
    a.join();
    b.join();
    ASSERT_NE(uphold_status.ok(), reject_status.ok()) << "round " << round;
    const grpc::Status& loser =
        uphold_status.ok() ? reject_status : uphold_status;
    EXPECT_EQ(ErrorReason(loser), "APPEAL_ALREADY_DECIDED");
    EXPECT_EQ(Reversals(appeal_id, member).size(),
              uphold_status.ok() ? 1u : 0u);
    EXPECT_EQ(Get(appeal_id).events_size(), 2);
  }
}

}  // namespace
}  // namespace makegood
