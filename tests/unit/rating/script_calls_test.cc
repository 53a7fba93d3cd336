// The typed calls of the SubmitRating scripts: every key comes from
// KeySchema and lies in the scope's hash slot, every argument sits where the
// script reads it, every answer parses into its typed reply, and a reply of
// the wrong shape is INTERNAL naming the script, never a crash.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/insights/decision_event.h"
#include "services/rating/admit_script.h"
#include "services/rating/commit_script.h"
#include "services/rating/decision_event_fields.h"
#include "services/rating/rate_limit_script.h"
#include "services/rating/rating_ids.h"
#include "services/rating/release_script.h"
#include "services/store/key_schema.h"
#include "tests/testing/fake_redis.h"

namespace makegood::rating {
namespace {

using ::makegood::testing::NilReply;
using ::makegood::testing::Reply;
using redis::RedisReply;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixMillis(1780272000123);

class ScriptCallsTest : public ::testing::Test {
 protected:
  ScriptCallsTest()
      : keys_(*store::KeySchema::Create(64)),
        ids_(DeriveRatingIds("c", "SubmitRating", "m-1", "k-1",
                             keys_.PartitionOf("m-1"))) {}

  void ExpectOneSlot(const std::vector<std::string>& keys) const {
    for (const std::string& key : keys) {
      EXPECT_TRUE(absl::StartsWith(key, keys_.PartitionPrefix(ids_.partition)))
          << key << " is outside the member's hash slot";
    }
  }

  store::KeySchema keys_;
  RatingIds ids_;
};

TEST_F(ScriptCallsTest, AdmitSendsTheScopesKeysAndItsArgumentsInOrder) {
  ScriptCall call =
      BuildAdmitCall(keys_, AdmitRequest{.ids = ids_,
                                         .member_id = "m-1",
                                         .order_id = "o-1",
                                         .fingerprint = "fp",
                                         .token = "tok",
                                         .claim_lease = absl::Seconds(10),
                                         .now = kNow,
                                         .limiter_interval_ms = 2000,
                                         .limiter_burst = 10,
                                         .limiter_shadow = true,
                                         .rating_window = absl::Hours(168),
                                         .rated_line_ids = {"l1", "l2"}});
  EXPECT_THAT(
      call.keys,
      ElementsAre(keys_.IdempotencyKey(ids_.partition, ids_.scope_hash),
                  keys_.MemberKey("m-1"), keys_.MemberStatsKey("m-1"),
                  keys_.OrderKey("m-1", "o-1"), keys_.MemberLimiterKey("m-1"),
                  keys_.RatingKey(ids_.partition, ids_.rating_id)));
  ExpectOneSlot(call.keys);
  EXPECT_THAT(call.args,
              ElementsAre("fp", "tok", "10000", "1780272000123", "m-1", "2000",
                          "10", "1", "604800000", "l1 l2"));
}

TEST_F(ScriptCallsTest, AdmitWithoutALimitSendsIntervalZero) {
  AdmitRequest request;
  request.ids = ids_;
  request.member_id = "m-1";
  request.order_id = "o-1";
  ScriptCall call = BuildAdmitCall(keys_, request);
  EXPECT_EQ(call.args[5], "0");
  EXPECT_EQ(call.args[9], "");
}

TEST_F(ScriptCallsTest, EveryAdmitAnswerParses) {
  auto parse = [](std::vector<RedisReply> e) {
    return ParseAdmitReply(Reply(std::move(e)));
  };
  EXPECT_EQ(parse({Reply("REPLAY"), Reply("bytes")})->stored, "bytes");
  EXPECT_EQ(parse({Reply("REPLAY"), Reply("b")})->answer, AdmitAnswer::kReplay);
  EXPECT_EQ(parse({Reply("RECORDED"), Reply("r")})->answer,
            AdmitAnswer::kRecorded);
  EXPECT_EQ(parse({Reply("REUSED")})->answer, AdmitAnswer::kReused);
  EXPECT_EQ(parse({Reply("INFLIGHT")})->answer, AdmitAnswer::kInFlight);
  EXPECT_EQ(parse({Reply("NO_ORDER")})->answer, AdmitAnswer::kNoOrder);
  EXPECT_EQ(parse({Reply("NOT_OWNER")})->answer, AdmitAnswer::kNotOwner);
  EXPECT_EQ(parse({Reply("NO_MEMBER")})->answer, AdmitAnswer::kNoMember);
  EXPECT_EQ(parse({Reply("WINDOW_CLOSED")})->answer,
            AdmitAnswer::kWindowClosed);
  auto line = parse({Reply("UNKNOWN_LINE"), Reply("l9")});
  EXPECT_EQ(line->answer, AdmitAnswer::kUnknownLine);
  EXPECT_EQ(line->unknown_line_id, "l9");
  auto limited = parse({Reply("LIMITED"), Reply(int64_t{1500}), Reply("60")});
  ASSERT_TRUE(limited.ok()) << limited.status();
  EXPECT_EQ(limited->answer, AdmitAnswer::kLimited);
  EXPECT_EQ(limited->retry_after_ms, 1500);
  EXPECT_EQ(limited->reset_ms, 60);

  auto fresh = parse({Reply("FRESH"), Reply("order"), Reply("250"),
                      Reply("member"), Reply({Reply("ver"), Reply("3")}),
                      Reply(int64_t{-1}), Reply(int64_t{7}), Reply(int64_t{1}),
                      Reply("400"), Reply("l1 l2")});
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(fresh->answer, AdmitAnswer::kFresh);
  EXPECT_EQ(fresh->order_pb.str, "order");
  EXPECT_EQ(fresh->order_refunded_minor.str, "250");
  EXPECT_EQ(fresh->member_pb.str, "member");
  EXPECT_EQ(fresh->stats.elements.size(), 2u);
  EXPECT_EQ(fresh->remaining, -1);
  EXPECT_EQ(fresh->reset_ms, 7);
  EXPECT_TRUE(fresh->would_reject);
  EXPECT_EQ(fresh->coupon_granted_minor, 400);
  EXPECT_THAT(fresh->replaced_line_ids, ElementsAre("l1", "l2"));
}

void ExpectMalformed(const absl::Status& status, const std::string& script) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_THAT(status.message(), HasSubstr(script));
}

TEST_F(ScriptCallsTest, MalformedAdmitRepliesAreInternalNamingTheScript) {
  const std::vector<RedisReply> malformed = {
      NilReply(),
      Reply("FRESH"),
      Reply(int64_t{1}),
      Reply(std::vector<RedisReply>{}),
      Reply({Reply(int64_t{1})}),
      Reply({Reply("SURPRISE")}),
      Reply({Reply("REPLAY")}),
      Reply({Reply("REPLAY"), NilReply()}),
      Reply({Reply("UNKNOWN_LINE")}),
      Reply({Reply("LIMITED"), Reply("soon"), Reply(int64_t{1})}),
      Reply({Reply("LIMITED"), Reply(int64_t{1})}),
      Reply({Reply("FRESH"), Reply("order"), Reply("0")}),
      Reply({Reply("FRESH"), Reply("o"), Reply("0"), Reply("m"), Reply("s"),
             Reply("many"), Reply(int64_t{0}), Reply(int64_t{0}), Reply("0"),
             Reply("")}),
      Reply({Reply("FRESH"), Reply("o"), Reply("0"), Reply("m"), Reply("s"),
             Reply(int64_t{0}), Reply(int64_t{0}), Reply(int64_t{0}),
             Reply("0"), NilReply()}),
  };
  for (const RedisReply& reply : malformed) {
    ExpectMalformed(ParseAdmitReply(reply).status(), "admit_rating");
  }
}

CommitRequest SampleCommit(const RatingIds& ids) {
  return CommitRequest{
      .ids = ids,
      .member_id = "m-1",
      .order_id = "o-1",
      .token = "tok",
      .stats_version = "4",
      .now = kNow,
      .response = "response-bytes",
      .idempotency_ttl = absl::Hours(24),
      .rating_record = "record-bytes",
      .refund_minor = 1200,
      .money = true,
      .refund = "refund-bytes",
      .instrument = "card",
      .currency = "EUR",
      .payment_reference = "pay-1",
      .low_rating = true,
      .store_budget = true,
      .budget_balance_minor = 800,
      .budget_as_of = absl::FromUnixMillis(1780272000000),
      .expired_stats_fields = {"rc:1", "rm:1"},
      .coupon_minor = 0,
      .replaced_line_ids = {"l2"},
      .actor = "policy:default@1",
      .reason_codes = {"MELTED", "TRUSTED"},
      .decision_event = {"rating_id", "rt", "lines", "0"},
      .follow_ups = {{.kind = policy::FollowUpKind::kStoreFeedback,
                      .target_id = "store-1",
                      .reason_codes = {"MELTED", "LATE"}}},
      .trouble_record = "trouble-record",
      .trouble_due_member = "due-member",
      .trouble_first_close_ms = 1780876800123,
      .arm = "exp:candidate",
      .made_good_at_once = true};
}

TEST_F(ScriptCallsTest, CommitSendsTwentyKeysOfOneSlotInTheScriptsOrder) {
  ScriptCall call = BuildCommitCall(keys_, SampleCommit(ids_));
  const int p = ids_.partition;
  ASSERT_EQ(call.keys.size(), 20u);
  EXPECT_EQ(call.keys[0], keys_.IdempotencyKey(p, ids_.scope_hash));
  EXPECT_EQ(call.keys[1], keys_.MemberStatsKey("m-1"));
  EXPECT_EQ(call.keys[2], keys_.OrderKey("m-1", "o-1"));
  EXPECT_EQ(call.keys[3], keys_.RatingKey(p, ids_.rating_id));
  EXPECT_EQ(call.keys[4], keys_.RefundKey(p, ids_.refund_id));
  EXPECT_EQ(call.keys[5], keys_.MemberRefundsKey(p, "m-1"));
  EXPECT_EQ(call.keys[6], keys_.OrderRefundsKey(p, "o-1"));
  EXPECT_EQ(call.keys[7], keys_.LedgerKey(p));
  EXPECT_EQ(call.keys[8], keys_.LedgerBalancesKey(p));
  EXPECT_EQ(call.keys[9], keys_.OutboxKey(p));
  EXPECT_EQ(call.keys[10], keys_.RatingsByTimeKey(p));
  EXPECT_EQ(call.keys[11], keys_.RefundEventsKey(p, ids_.refund_id));
  EXPECT_EQ(call.keys[12], keys_.FeedbackKey(p));
  EXPECT_EQ(call.keys[13], keys_.PartitionPrefix(p) + "fu:tasks");
  EXPECT_EQ(call.keys[14], keys_.NotificationsKey(p));
  EXPECT_EQ(call.keys[15], keys_.DecisionsKey(p));
  // The rated order leaves the open orders a policy reload counts.
  EXPECT_EQ(call.keys[16], keys_.OpenOrdersKey(p));
  // Retention after trouble: the member's troubles and their schedule.
  EXPECT_EQ(call.keys[17], keys_.TroublesKey(p, "m-1"));
  EXPECT_EQ(call.keys[18], keys_.TroublesDueKey(p));
  // The experiment arms' tallies.
  EXPECT_EQ(call.keys[19], keys_.ArmsKey(p));
  ExpectOneSlot(call.keys);
}

TEST_F(ScriptCallsTest, CommitSendsEachArgumentWhereTheScriptReadsIt) {
  ScriptCall call = BuildCommitCall(keys_, SampleCommit(ids_));
  EXPECT_THAT(
      call.args,
      ElementsAre("tok", "4", "1780272000123", "response-bytes", "86400000",
                  "record-bytes", "1200", "1", "refund-bytes", ids_.refund_id,
                  "card", "EUR", "m-1", absl::StrCat(1780272000123 / 86400000),
                  "1", "1", "800", "1780272000000", "rc:1 rm:1", ids_.rating_id,
                  "o-1", "0", "l2", "pay-1", "policy:default@1",
                  "MELTED,TRUSTED",
                  // D = 4 strings of the decision event, then F = 1 triple.
                  "4", "rating_id", "rt", "lines", "0", "1", "store_feedback",
                  "store-1", "MELTED,LATE",
                  // The trouble: its record, schedule member, first close.
                  "trouble-record", "due-member", "1780876800123",
                  // The experiment arm, and made good at once.
                  "exp:candidate", "1"));
}

TEST_F(ScriptCallsTest, ACommitWithoutRefundOrEventsStillSendsEveryPosition) {
  CommitRequest request;
  request.ids = ids_;
  request.member_id = "m-1";
  request.order_id = "o-1";
  ScriptCall call = BuildCommitCall(keys_, request);
  ASSERT_EQ(call.args.size(), 31u);
  EXPECT_EQ(call.args[6], "0");
  EXPECT_EQ(call.args[7], "0");
  EXPECT_EQ(call.args[26], "0");  // D.
  EXPECT_EQ(call.args[27], "0");  // F.
  EXPECT_EQ(call.args[28], "");   // No trouble.
  EXPECT_EQ(call.args[29], "");   // No experiment arm.
  EXPECT_EQ(call.args[30], "0");
}

TEST_F(ScriptCallsTest, EveryFollowUpKindHasTheScriptsName) {
  EXPECT_STREQ(FollowUpKindName(policy::FollowUpKind::kCourierFeedback),
               "courier_feedback");
  EXPECT_STREQ(FollowUpKindName(policy::FollowUpKind::kStoreFeedback),
               "store_feedback");
  EXPECT_STREQ(FollowUpKindName(policy::FollowUpKind::kManagerFollowUp),
               "manager_follow_up");
  EXPECT_STREQ(FollowUpKindName(policy::FollowUpKind::kSilentRecovery),
               "silent_recovery");
}

TEST_F(ScriptCallsTest, EveryCommitAnswerParses) {
  auto parse = [](std::vector<RedisReply> e) {
    return ParseCommitReply(Reply(std::move(e)));
  };
  EXPECT_EQ(parse({Reply("OK")})->answer, CommitAnswer::kOk);
  EXPECT_EQ(parse({Reply("STALE")})->answer, CommitAnswer::kStale);
  EXPECT_EQ(parse({Reply("LOST_CLAIM")})->answer, CommitAnswer::kLostClaim);
  EXPECT_EQ(parse({Reply("DONE")})->answer, CommitAnswer::kDone);
  auto ceiling = parse({Reply("CEILING"), Reply("2500"), Reply("3000")});
  ASSERT_TRUE(ceiling.ok()) << ceiling.status();
  EXPECT_EQ(ceiling->answer, CommitAnswer::kCeiling);
  EXPECT_EQ(ceiling->refunded_minor, 2500);
  EXPECT_EQ(ceiling->total_minor, 3000);
}

TEST_F(ScriptCallsTest, MalformedCommitRepliesAreInternalNamingTheScript) {
  const std::vector<RedisReply> malformed = {
      NilReply(),
      Reply("OK"),
      Reply(int64_t{1}),
      Reply(std::vector<RedisReply>{}),
      Reply({NilReply()}),
      Reply({Reply("MAYBE")}),
      Reply({Reply("CEILING")}),
      Reply({Reply("CEILING"), Reply("x"), Reply("3000")}),
  };
  for (const RedisReply& reply : malformed) {
    ExpectMalformed(ParseCommitReply(reply).status(), "commit_rating");
  }
}

TEST_F(ScriptCallsTest, ReleaseSendsTheIdempotencyRecordAndTheToken) {
  ScriptCall call =
      BuildReleaseCall(keys_, ReleaseRequest{.ids = ids_, .token = "tok"});
  EXPECT_THAT(call.keys, ElementsAre(keys_.IdempotencyKey(ids_.partition,
                                                          ids_.scope_hash)));
  EXPECT_THAT(call.args, ElementsAre("tok"));
  EXPECT_TRUE(ParseReleaseReply(Reply(int64_t{1}))->released);
  EXPECT_FALSE(ParseReleaseReply(Reply(int64_t{0}))->released);
  for (const RedisReply& reply : {NilReply(), Reply("1"), Reply(int64_t{2}),
                                  Reply({Reply(int64_t{1})})}) {
    ExpectMalformed(ParseReleaseReply(reply).status(), "release_rating");
  }
}

TEST_F(ScriptCallsTest, RateLimitSendsTheClientsLimiterAndParsesSixIntegers) {
  ScriptCall call = BuildRateLimitCall(
      keys_,
      RateLimitRequest{
          .client_id = "c-1", .interval_ms = 0.5, .burst = 4000, .cells = 100});
  EXPECT_THAT(call.keys, ElementsAre(keys_.ClientLimiterKey("c-1")));
  EXPECT_THAT(call.args, ElementsAre("0.5", "4000", "0", "100"));

  auto refused = ParseRateLimitReply(
      Reply({Reply(int64_t{0}), Reply(int64_t{0}), Reply(int64_t{0}),
             Reply(int64_t{1500}), Reply(int64_t{2000}), Reply(int64_t{0})}));
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_FALSE(refused->allowed);
  EXPECT_FALSE(refused->would_reject);
  EXPECT_EQ(refused->retry_after_ms, 1500);
  EXPECT_EQ(refused->reset_ms, 2000);
  EXPECT_EQ(refused->granted, 0);
  auto shadow = ParseRateLimitReply(
      Reply({Reply(int64_t{1}), Reply(int64_t{1}), Reply(int64_t{3}),
             Reply(int64_t{0}), Reply(int64_t{10}), Reply(int64_t{1})}));
  ASSERT_TRUE(shadow.ok());
  EXPECT_TRUE(shadow->allowed);
  EXPECT_TRUE(shadow->would_reject);
  EXPECT_EQ(shadow->remaining, 3);
  auto lease = ParseRateLimitReply(
      Reply({Reply(int64_t{1}), Reply(int64_t{0}), Reply(int64_t{3900}),
             Reply(int64_t{0}), Reply(int64_t{50}), Reply(int64_t{100})}));
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ(lease->granted, 100);

  for (const RedisReply& reply :
       {NilReply(), Reply(int64_t{1}),
        Reply({Reply(int64_t{1}), Reply(int64_t{0})}),
        // The five integers of a script from before leases.
        Reply({Reply(int64_t{1}), Reply(int64_t{0}), Reply(int64_t{3}),
               Reply(int64_t{0}), Reply(int64_t{10})}),
        Reply({Reply(int64_t{1}), Reply(int64_t{0}), Reply("lots"),
               Reply(int64_t{0}), Reply(int64_t{0}), Reply(int64_t{1})})}) {
    ExpectMalformed(ParseRateLimitReply(reply).status(), "rate_limit");
  }
}

// The decision event travels through commit_rating.lua unchanged; what the
// rating side writes is what insights reads.
TEST(DecisionEventFields, AreWhatInsightsParses) {
  v1::Order order;
  order.set_currency("EUR");
  order.set_store_id("store-1");
  order.set_courier_id("courier-1");
  auto* a = order.add_lines();
  a->set_line_id("l1");
  a->set_sku("ICE");
  a->set_amount_minor(1000);
  auto* b = order.add_lines();
  b->set_line_id("l2");
  b->set_sku("BREAD");
  b->set_amount_minor(3000);
  v1::SubmitRatingRequest request;
  request.set_satisfaction_percent(40);
  auto* rated = request.add_line_ratings();
  rated->set_line_id("l1");
  rated->set_satisfaction_percent(10);
  policy::Decision decision;
  decision.outcome = policy::Outcome::kRefund;
  decision.refund =
      policy::Refund{.amount_minor = 800,
                     .currency = "EUR",
                     .instrument = policy::Instrument::kOriginalPayment};

  std::vector<std::string> fields =
      DecisionEventFields("rt_1", kNow, request, order, decision);
  std::vector<RedisReply> entry;
  for (const std::string& f : fields) entry.push_back(Reply(f));
  auto event = insights::ParseDecisionEvent(Reply(std::move(entry)));
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->rating_id, "rt_1");
  EXPECT_EQ(event->at_ms, absl::ToUnixMillis(kNow));
  EXPECT_EQ(event->satisfaction, 40);
  EXPECT_EQ(event->refund_minor, 800);
  EXPECT_EQ(event->currency, "EUR");
  EXPECT_EQ(event->store_id, "store-1");
  EXPECT_EQ(event->courier_id, "courier-1");
  ASSERT_EQ(event->lines.size(), 2u);
  EXPECT_EQ(event->lines[0].sku, "ICE");
  EXPECT_EQ(event->lines[0].satisfaction, 10);
  EXPECT_EQ(event->lines[0].refund_minor, 200);
  EXPECT_EQ(event->lines[1].satisfaction, 40);
  EXPECT_EQ(event->lines[1].refund_minor, 600);
}

}  // namespace
}  // namespace makegood::rating
