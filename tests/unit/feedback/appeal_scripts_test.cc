// The typed calls of file_appeal.lua, decide_appeal.lua and read_appeal.lua:
// keys from KeySchema in one slot, arguments in the scripts' positions, and
// replies parsed (or refused as INTERNAL naming the script).
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/feedback/appeal_record.h"
#include "services/feedback/decide_appeal_script.h"
#include "services/feedback/file_appeal_script.h"
#include "services/feedback/read_appeal_script.h"
#include "services/redis/key_slot.h"
#include "services/store/key_schema.h"

namespace makegood::feedback {
namespace {

using redis::RedisReply;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kAppealId[] = "ap_5_0123456789abcdef01234567_2";

store::KeySchema Keys() { return *store::KeySchema::Create(64); }

AppealId Id() { return *ParseAppealId(kAppealId, 64); }

v1::Appeal OpenAppeal() {
  v1::Appeal a;
  a.set_appeal_id(kAppealId);
  a.set_state(v1::APPEAL_STATE_OPEN);
  a.set_feedback_kind(v1::FEEDBACK_KIND_COURIER);
  a.set_target_id("courier-1");
  a.set_rating_id("rt_5_0123456789abcdef01234567");
  a.set_order_id("o-1");
  a.set_partner_id("courier:courier-1");
  a.set_reason("delivered_on_time");
  a.set_comment("GPS says so");
  a.mutable_created_at()->set_seconds(1'780'000'000);
  a.mutable_created_at()->set_nanos(123'000'000);
  return a;
}

v1::Appeal UpheldAppeal() {
  v1::Appeal a = OpenAppeal();
  a.set_state(v1::APPEAL_STATE_UPHELD);
  a.mutable_decided_at()->set_seconds(1'780'000'100);
  a.set_decided_by("agent:agent-7");
  a.set_decision_reason("gps_confirms");
  a.set_reversed_by(v1::FEEDBACK_REVERSAL_APPEAL_UPHELD);
  return a;
}

void ExpectOneSlot(const std::vector<std::string>& keys) {
  std::set<int> slots;
  for (const std::string& key : keys) slots.insert(redis::KeySlot(key));
  EXPECT_EQ(slots.size(), 1u);
}

TEST(FileAppealScript, KeysAreTheRatingsPartitionAndArgsRoundTrip) {
  const store::KeySchema keys = Keys();
  FileAppealRequest r;
  r.appeal_id = kAppealId;
  r.SetKeys(keys, Id());
  r.idempotency_key = "a-1";
  r.fingerprint = "fp";
  r.partner = {"courier_feedback", "courier-1"};
  r.caller = "courier:courier-1";
  r.reason = "delivered_on_time";
  r.comment = "GPS says so";
  r.now_ms = 1'780'000'000'123;
  EXPECT_THAT(r.Keys(),
              ElementsAre(keys.RatingKey(5, "rt_5_0123456789abcdef01234567"),
                          keys.AppealKey(5, kAppealId),
                          keys.AppealEventsKey(5, kAppealId), keys.TasksKey(5),
                          keys.RefundKey(5, Id().refund_id)));
  ExpectOneSlot(r.Keys());
  EXPECT_EQ(r.Args().size(), 10u);
  absl::StatusOr<FileAppealRequest> parsed =
      FileAppealRequest::Parse(r.Keys(), r.Args());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->Keys(), r.Keys());
  EXPECT_EQ(parsed->Args(), r.Args());
  EXPECT_EQ(parsed->partner.target_id, "courier-1");
  EXPECT_FALSE(FileAppealRequest::Parse(r.Keys(), {}).ok());
}

TEST(FileAppealScript, EveryAnswerRoundTrips) {
  for (FileAppealReply::Outcome outcome :
       {FileAppealReply::kOk, FileAppealReply::kReplay,
        FileAppealReply::kExists, FileAppealReply::kReused,
        FileAppealReply::kNoFeedback, FileAppealReply::kNotTarget,
        FileAppealReply::kReversed}) {
    FileAppealReply reply;
    reply.outcome = outcome;
    if (outcome == FileAppealReply::kReversed) {
      reply.reversed_by = v1::FEEDBACK_REVERSAL_CLAIM_ABUSIVE;
    } else if (outcome == FileAppealReply::kOk ||
               outcome == FileAppealReply::kReplay ||
               outcome == FileAppealReply::kExists) {
      reply.appeal = OpenAppeal();
    }
    absl::StatusOr<FileAppealReply> parsed =
        ParseFileAppealReply(reply.ToReply());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->outcome, outcome);
    EXPECT_EQ(parsed->appeal.SerializeAsString(),
              reply.appeal.SerializeAsString());
    EXPECT_EQ(parsed->reversed_by, reply.reversed_by);
  }
}

TEST(FileAppealScript, RefusesMalformedReplies) {
  for (const RedisReply& bad : {
           RedisReply::String("OK"),
           RedisReply::Array({RedisReply::String("FILED")}),
           RedisReply::Array({RedisReply::String("REVERSED")}),
           // An odd field list.
           RedisReply::Array(
               {RedisReply::String("OK"), RedisReply::String("appeal_id")}),
           // No state.
           RedisReply::Array({RedisReply::String("OK"),
                              RedisReply::String("appeal_id"),
                              RedisReply::String(kAppealId)}),
       }) {
    absl::StatusOr<FileAppealReply> parsed = ParseFileAppealReply(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInternal);
    EXPECT_THAT(parsed.status().message(), HasSubstr("file_appeal"));
  }
}

TEST(AppealRecord, HashFieldsRoundTrip) {
  for (const v1::Appeal& appeal : {OpenAppeal(), UpheldAppeal()}) {
    std::vector<RedisReply> fields = AppealToFields(appeal);
    // Fields the API does not show are skipped.
    fields.push_back(RedisReply::String("file_fp"));
    fields.push_back(RedisReply::String("abc"));
    absl::StatusOr<v1::Appeal> parsed =
        AppealFromFields(fields, 0, fields.size(), "test");
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->SerializeAsString(), appeal.SerializeAsString());
  }
}

TEST(DecideAppealScript, KeysAreTheRatingsPartitionAndArgsRoundTrip) {
  const store::KeySchema keys = Keys();
  DecideAppealRequest r;
  r.SetKeys(keys, kAppealId, Id());
  r.idempotency_key = "d-1";
  r.fingerprint = "fp";
  r.decision = "upheld";
  r.actor = "agent:agent-7";
  r.caller = "support-desk";
  r.reason = "gps_confirms";
  r.now_ms = 5;
  EXPECT_THAT(
      r.Keys(),
      ElementsAre(keys.AppealKey(5, kAppealId),
                  keys.AppealEventsKey(5, kAppealId),
                  keys.RatingKey(5, "rt_5_0123456789abcdef01234567"),
                  keys.FeedbackKey(5), keys.RefundKey(5, Id().refund_id)));
  ExpectOneSlot(r.Keys());
  absl::StatusOr<DecideAppealRequest> parsed =
      DecideAppealRequest::Parse(r.Keys(), r.Args());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->Args(), r.Args());
  EXPECT_EQ(parsed->decision, "upheld");
}

TEST(DecideAppealScript, EveryAnswerRoundTrips) {
  for (DecideAppealReply::Outcome outcome :
       {DecideAppealReply::kOk, DecideAppealReply::kReplay,
        DecideAppealReply::kAlready, DecideAppealReply::kConflict,
        DecideAppealReply::kMissing, DecideAppealReply::kReused}) {
    DecideAppealReply reply;
    reply.outcome = outcome;
    if (outcome != DecideAppealReply::kMissing &&
        outcome != DecideAppealReply::kReused) {
      reply.appeal = UpheldAppeal();
      reply.reversed_now = outcome == DecideAppealReply::kOk;
    }
    absl::StatusOr<DecideAppealReply> parsed =
        ParseDecideAppealReply(reply.ToReply());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->outcome, outcome);
    EXPECT_EQ(parsed->reversed_now, reply.reversed_now);
    EXPECT_EQ(parsed->appeal.SerializeAsString(),
              reply.appeal.SerializeAsString());
  }
  absl::StatusOr<DecideAppealReply> bad = ParseDecideAppealReply(
      RedisReply::Array({RedisReply::String("OK"), RedisReply::String("2")}));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(bad.status().message(), HasSubstr("decide_appeal"));
}

TEST(ReadAppealScript, ReadsTheAppealTheLiveReversalAndTheTrail) {
  const store::KeySchema keys = Keys();
  ReadAppealRequest r;
  r.appeal_id = kAppealId;
  r.include_events = true;
  r.SetKeys(keys, Id());
  ExpectOneSlot(r.Keys());
  EXPECT_THAT(r.Args(), ElementsAre(kAppealId, "1"));

  std::vector<RedisReply> fields = AppealToFields(OpenAppeal());
  std::vector<RedisReply> e = {
      RedisReply::String("OK"), RedisReply::String("claim_abusive"),
      RedisReply::String(std::to_string(fields.size()))};
  e.insert(e.end(), fields.begin(), fields.end());
  e.push_back(RedisReply::Array(
      {RedisReply::String("1-0"),
       RedisReply::Array({RedisReply::String("seq"), RedisReply::String("1"),
                          RedisReply::String("to"), RedisReply::String("open"),
                          RedisReply::String("actor"),
                          RedisReply::String("courier:courier-1"),
                          RedisReply::String("at_ms"),
                          RedisReply::String("1780000000123")})}));
  absl::StatusOr<ReadAppealReply> parsed =
      ParseReadAppealReply(RedisReply::Array(e));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_TRUE(parsed->found);
  // The rating's record of the reversal wins over the appeal's.
  EXPECT_EQ(parsed->appeal.reversed_by(), v1::FEEDBACK_REVERSAL_CLAIM_ABUSIVE);
  EXPECT_EQ(parsed->appeal.target_id(), "courier-1");
  ASSERT_EQ(parsed->events.size(), 1u);
  EXPECT_EQ(parsed->events[0].seq(), 1);
  EXPECT_EQ(parsed->events[0].to(), v1::APPEAL_STATE_OPEN);
  EXPECT_EQ(parsed->events[0].actor(), "courier:courier-1");
  EXPECT_EQ(parsed->events[0].at().nanos(), 123'000'000);

  absl::StatusOr<ReadAppealReply> missing =
      ParseReadAppealReply(RedisReply::Array({RedisReply::String("MISSING")}));
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->found);
  absl::StatusOr<ReadAppealReply> bad = ParseReadAppealReply(
      RedisReply::Array({RedisReply::String("OK"), RedisReply::String(""),
                         RedisReply::String("40")}));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace makegood::feedback
