// The typed calls of the store's scripts (services/store/<script>_script.h):
// every key comes from KeySchema and all of one call's keys lie in one hash
// slot, every argument sits where the script reads it, every answer parses
// into its typed reply, and a reply of the wrong shape is INTERNAL naming
// the script, never a crash. No Redis: the scripts themselves run against a
// real server in tests/integration.
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/redis/key_slot.h"
#include "services/store/attention_page_script.h"
#include "services/store/check_schema_script.h"
#include "services/store/key_schema.h"
#include "services/store/mark_abusive_script.h"
#include "services/store/read_hashes_script.h"
#include "services/store/read_member_script.h"
#include "services/store/read_refund_script.h"
#include "services/store/record_delivery_script.h"
#include "services/store/redrive_refund_script.h"
#include "services/store/refund_page_script.h"
#include "services/store/script_call.h"
#include "services/store/upsert_member_script.h"
#include "tests/testing/fake_redis.h"

namespace makegood::store {
namespace {

using ::makegood::testing::NilReply;
using ::makegood::testing::Reply;
using redis::RedisReply;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const absl::Time kNow = absl::FromUnixMillis(1780272000123);

class StoreScriptCallsTest : public ::testing::Test {
 protected:
  StoreScriptCallsTest()
      : keys_(*KeySchema::Create(64)), p_(keys_.PartitionOf("m-1")) {}

  // Redis Cluster refuses a call whose keys span two slots.
  static void ExpectOneSlot(const std::vector<std::string>& keys) {
    ASSERT_FALSE(keys.empty());
    for (const std::string& key : keys) {
      EXPECT_EQ(redis::KeySlot(key), redis::KeySlot(keys[0]))
          << key << " and " << keys[0] << " are in different slots";
    }
  }

  KeySchema keys_;
  int p_;  // The partition of member m-1 and of its refunds.
};

// A reply of the wrong shape is INTERNAL and names the script.
template <typename T>
void ExpectMalformed(const absl::StatusOr<T>& parsed,
                     const std::string& script) {
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(parsed.status().message(), HasSubstr(script));
}

RedisReply Texts(std::vector<std::string> texts) {
  std::vector<RedisReply> out;
  for (std::string& t : texts) out.push_back(Reply(std::move(t)));
  return Reply(std::move(out));
}

// --- script_call.h ---

TEST(ScriptCallHelpers, IndexEntriesAreIdScorePairsFromTheFirstGiven) {
  RedisReply reply = Reply({Reply(int64_t{7}), Reply("r-1"), Reply("10"),
                            Reply("r-2"), Reply("20")});
  auto entries = IndexEntriesFrom(reply.elements, 1, "s");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].id, "r-1");
  EXPECT_EQ((*entries)[0].score, "10");
  EXPECT_EQ((*entries)[1].id, "r-2");
  EXPECT_EQ((*entries)[1].score, "20");
}

TEST(ScriptCallHelpers, IndexEntriesRefuseAnOddCountOrANonTextElement) {
  ExpectMalformed(IndexEntriesOf(Texts({"r-1", "10", "r-2"}), "s"), "s");
  ExpectMalformed(IndexEntriesOf(Reply({Reply("r-1"), NilReply()}), "s"), "s");
  ExpectMalformed(IndexEntriesOf(Reply("r-1"), "s"), "s");
}

TEST(ScriptCallHelpers, TaggedReplyNeedsATextFirstElement) {
  ExpectMalformed(TaggedReply(Reply(std::vector<RedisReply>{}), 1, "s"), "s");
  ExpectMalformed(TaggedReply(Reply({Reply(int64_t{1})}), 1, "s"), "s");
  ExpectMalformed(TaggedReply(Reply("OK"), 1, "s"), "s");
  EXPECT_TRUE(TaggedReply(Reply({Reply("OK")}), 1, "s").ok());
}

// --- check_schema ---

TEST_F(StoreScriptCallsTest, CheckSchemaSendsTheMetaKeyPartitionsAndVersion) {
  ScriptCall call = BuildCheckSchemaCall({.partitions = 64});
  EXPECT_THAT(call.keys, ElementsAre(KeySchema::MetaKey()));
  EXPECT_THAT(call.args, ElementsAre("64", absl::StrCat(kSchemaVersion)));
}

TEST(CheckSchemaReply, ReadsTheRecordedPartitionsAndVersion) {
  auto reply = ParseCheckSchemaReply(Texts({"8", "1"}));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->partitions, 8);
  EXPECT_EQ(reply->schema_version, 1);
}

TEST(CheckSchemaReply, RefusesAShortReplyOrAValueThatIsNotANumber) {
  ExpectMalformed(ParseCheckSchemaReply(Texts({"8"})), "check_schema");
  ExpectMalformed(ParseCheckSchemaReply(Texts({"eight", "1"})), "check_schema");
  ExpectMalformed(ParseCheckSchemaReply(Reply({Reply("8"), NilReply()})),
                  "check_schema");
  ExpectMalformed(ParseCheckSchemaReply(Reply("8")), "check_schema");
}

TEST(CheckRecordedSchema, AcceptsThisServersPartitionsAndVersion) {
  EXPECT_TRUE(CheckRecordedSchema(
                  {.partitions = 64, .schema_version = kSchemaVersion}, 64)
                  .ok());
}

// Schema 1 data has the old plain partition tags: serving over it would
// answer from empty new-tag keys while the old data sat unread.
TEST(CheckRecordedSchema, RefusesOldTagDataAndSaysWhatToDo) {
  ASSERT_EQ(kSchemaVersion, 2);
  absl::Status status =
      CheckRecordedSchema({.partitions = 64, .schema_version = 1}, 64);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("schema_version=1"));
  EXPECT_THAT(status.message(), HasSubstr("refusing to serve"));
  EXPECT_THAT(status.message(), HasSubstr("plain partition tags {p<N>}"));
  EXPECT_THAT(status.message(), HasSubstr("makegood_admin migrate-tags"));
  EXPECT_THAT(status.message(), HasSubstr("empty Redis"));
  EXPECT_THAT(status.message(), HasSubstr("Partition tags"));
}

TEST(CheckRecordedSchema, RefusesAnotherPartitionCountOrANewerVersion) {
  absl::Status partitions = CheckRecordedSchema(
      {.partitions = 8, .schema_version = kSchemaVersion}, 64);
  EXPECT_EQ(partitions.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(partitions.message(), HasSubstr("--partitions=8"));
  absl::Status newer = CheckRecordedSchema(
      {.partitions = 64, .schema_version = kSchemaVersion + 1}, 64);
  EXPECT_EQ(newer.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(newer.message(), HasSubstr("newer release"));
}

// --- upsert_member ---

TEST_F(StoreScriptCallsTest, UpsertMemberSendsTheMemberKeyAndItsFields) {
  ScriptCall call = BuildUpsertMemberCall(
      keys_, UpsertMemberRequest{.member_id = "m-1",
                                 .member_pb = "PB",
                                 .tier = "gold",
                                 .member_since_ms = 1700000000000,
                                 .flags = {"vip", "staff"},
                                 .now = kNow});
  EXPECT_THAT(call.keys, ElementsAre(keys_.MemberKey("m-1")));
  EXPECT_THAT(call.args, ElementsAre("PB", "gold", "1700000000000", "vip staff",
                                     "1780272000123"));
}

TEST(UpsertMemberReply, MapsEachAnswerToItsWriteResult) {
  EXPECT_EQ(*ParseUpsertMemberReply(Texts({"CREATED"})),
            makegood::v1::WRITE_RESULT_CREATED);
  EXPECT_EQ(*ParseUpsertMemberReply(Texts({"UPDATED"})),
            makegood::v1::WRITE_RESULT_UPDATED);
  EXPECT_EQ(*ParseUpsertMemberReply(Texts({"UNCHANGED"})),
            makegood::v1::WRITE_RESULT_UNCHANGED);
}

TEST(UpsertMemberReply, RefusesAnUnknownAnswerOrShape) {
  ExpectMalformed(ParseUpsertMemberReply(Texts({"MONEY_LOCKED"})),
                  "upsert_member");
  ExpectMalformed(ParseUpsertMemberReply(Reply("CREATED")), "upsert_member");
  ExpectMalformed(ParseUpsertMemberReply(Reply(std::vector<RedisReply>{})),
                  "upsert_member");
}

// --- record_delivery ---

TEST_F(StoreScriptCallsTest,
       RecordDeliverySendsTheOrderStatsOpenOrdersAndTroublesKeys) {
  ScriptCall call = BuildRecordDeliveryCall(
      keys_, RecordDeliveryRequest{.member_id = "m-1",
                                   .order_id = "o-1",
                                   .order_pb = "PB",
                                   .money_fingerprint = "EUR|1000|100",
                                   .currency = "EUR",
                                   .total_minor = 1000,
                                   .delivery_fee_minor = 100,
                                   .delivered_at_ms = 1780000000000,
                                   .now = kNow,
                                   .line_ids = {"l1", "l2"},
                                   .payment_reference = "pay-1",
                                   .rating_window_end_ms = 1780604800000,
                                   .retention_day = absl::Seconds(2)});
  const int p = keys_.PartitionOf("m-1");
  EXPECT_THAT(
      call.keys,
      ElementsAre(keys_.OrderKey("m-1", "o-1"), keys_.MemberStatsKey("m-1"),
                  keys_.OpenOrdersKey(p), keys_.TroublesKey(p, "m-1")));
  ExpectOneSlot(call.keys);
  EXPECT_THAT(call.args,
              ElementsAre("m-1", "PB", "EUR|1000|100", "EUR", "1000", "100",
                          "1780000000000", "1780272000123", "l1 l2", "pay-1",
                          "1780604800000", "o-1", "2000"));
}

TEST(RecordDeliveryReply, ParsesEveryAnswer) {
  for (const auto& [tag, result] :
       std::vector<std::pair<std::string, makegood::v1::WriteResult>>{
           {"CREATED", makegood::v1::WRITE_RESULT_CREATED},
           {"UPDATED", makegood::v1::WRITE_RESULT_UPDATED},
           {"UNCHANGED", makegood::v1::WRITE_RESULT_UNCHANGED}}) {
    auto written = ParseRecordDeliveryReply(Texts({tag}));
    ASSERT_TRUE(written.ok()) << written.status();
    EXPECT_EQ(written->answer, RecordDeliveryAnswer::kWritten);
    EXPECT_EQ(written->written, result) << tag;
  }
  EXPECT_EQ(ParseRecordDeliveryReply(Texts({"MONEY_LOCKED"}))->answer,
            RecordDeliveryAnswer::kMoneyLocked);
  auto mismatch = ParseRecordDeliveryReply(Texts({"MEMBER_MISMATCH", "m-2"}));
  ASSERT_TRUE(mismatch.ok()) << mismatch.status();
  EXPECT_EQ(mismatch->answer, RecordDeliveryAnswer::kMemberMismatch);
  EXPECT_EQ(mismatch->stored_member_id, "m-2");
  // Lua drops a trailing false: no stored member id.
  auto bare = ParseRecordDeliveryReply(Texts({"MEMBER_MISMATCH"}));
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_EQ(bare->answer, RecordDeliveryAnswer::kMemberMismatch);
  EXPECT_EQ(bare->stored_member_id, "");
}

TEST(RecordDeliveryReply, RefusesAnUnknownAnswerOrShape) {
  ExpectMalformed(ParseRecordDeliveryReply(Texts({"DONE"})), "record_delivery");
  ExpectMalformed(ParseRecordDeliveryReply(
                      Reply({Reply("MEMBER_MISMATCH"), Reply(int64_t{3})})),
                  "record_delivery");
  ExpectMalformed(ParseRecordDeliveryReply(NilReply()), "record_delivery");
}

// --- read_member ---

TEST_F(StoreScriptCallsTest, ReadMemberSendsTheMemberAndStatsKeysOnly) {
  ScriptCall call = BuildReadMemberCall(keys_, {.member_id = "m-1"});
  EXPECT_THAT(call.keys,
              ElementsAre(keys_.MemberKey("m-1"), keys_.MemberStatsKey("m-1")));
  ExpectOneSlot(call.keys);
  EXPECT_THAT(call.args, IsEmpty());
}

TEST(ReadMemberReply, KeepsTheProfileAndTheFlatStats) {
  auto reply = ParseReadMemberReply(Reply({Reply("PB"), Texts({"ver", "3"})}));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_TRUE(reply->recorded);
  EXPECT_EQ(reply->member_pb.str, "PB");
  ASSERT_EQ(reply->stats.elements.size(), 2u);
  EXPECT_EQ(reply->stats.elements[1].str, "3");
}

TEST(ReadMemberReply, ANilProfileIsAMemberNeverRecorded) {
  auto reply = ParseReadMemberReply(
      Reply({NilReply(), Reply(std::vector<RedisReply>{})}));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_FALSE(reply->recorded);
}

TEST(ReadMemberReply, RefusesStatsThatAreNotAnArrayOrAShortReply) {
  ExpectMalformed(ParseReadMemberReply(Reply({Reply("PB"), Reply("x")})),
                  "read_member");
  ExpectMalformed(ParseReadMemberReply(Reply({Reply("PB")})), "read_member");
  ExpectMalformed(ParseReadMemberReply(Reply({Reply(int64_t{1}), Texts({})})),
                  "read_member");
}

// --- read_refund ---

TEST_F(StoreScriptCallsTest, ReadRefundSendsTheRefundAndItsEvents) {
  ScriptCall call = BuildReadRefundCall(
      keys_, ReadRefundRequest{.partition = p_, .refund_id = "rf-1"});
  EXPECT_THAT(call.keys, ElementsAre(keys_.RefundKey(p_, "rf-1"),
                                     keys_.RefundEventsKey(p_, "rf-1")));
  ExpectOneSlot(call.keys);
  EXPECT_THAT(call.args, IsEmpty());
}

TEST(ReadRefundReply, ReadsTheStoredFieldsAndTheLastEventId) {
  auto reply = ParseReadRefundReply(
      Texts({"PB", "SETTLING", "sent", "1780272000123", "wallet", "5-0"}));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_TRUE(reply->found);
  EXPECT_EQ(reply->refund.pb, "PB");
  EXPECT_EQ(reply->refund.state, "SETTLING");
  EXPECT_EQ(reply->refund.state_reason, "sent");
  EXPECT_EQ(reply->refund.updated_at_ms, "1780272000123");
  EXPECT_EQ(reply->refund.instrument, "wallet");
  EXPECT_EQ(reply->last_event_id, "5-0");
}

TEST(ReadRefundReply, AnEmptyArrayIsARefundThatDoesNotExist) {
  auto reply = ParseReadRefundReply(Reply(std::vector<RedisReply>{}));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_FALSE(reply->found);
}

TEST(ReadRefundReply, RefusesAnyOtherShape) {
  ExpectMalformed(ParseReadRefundReply(Texts({"PB", "SETTLING"})),
                  "read_refund");
  ExpectMalformed(
      ParseReadRefundReply(Reply({Reply("PB"), NilReply(), Reply(""), Reply(""),
                                  Reply(""), Reply("0-0")})),
      "read_refund");
  ExpectMalformed(ParseReadRefundReply(NilReply()), "read_refund");
}

// --- mark_abusive ---

TEST_F(StoreScriptCallsTest, MarkAbusiveSendsItsTenKeysInOneSlot) {
  ScriptCall call =
      BuildMarkAbusiveCall(keys_, MarkAbusiveRequest{.partition = p_,
                                                     .refund_id = "rf-1",
                                                     .rating_id = "ra-1",
                                                     .member_id = "m-1",
                                                     .now = kNow,
                                                     .actor = "operator:o-1",
                                                     .reason = "fraud",
                                                     .reverse_refund = true});
  EXPECT_THAT(call.keys,
              ElementsAre(keys_.RefundKey(p_, "rf-1"),
                          keys_.RefundEventsKey(p_, "rf-1"),
                          keys_.RefundFeedKey(p_), keys_.RatingKey(p_, "ra-1"),
                          keys_.FeedbackKey(p_), keys_.MemberStatsKey("m-1"),
                          keys_.LedgerKey(p_), keys_.LedgerBalancesKey(p_),
                          keys_.WalletKey(p_, "m-1"), keys_.ArmsKey(p_)));
  ExpectOneSlot(call.keys);
  EXPECT_THAT(call.args,
              ElementsAre("1780272000123", "operator:o-1", "fraud", "1"));
  MarkAbusiveRequest keep = {.partition = p_,
                             .refund_id = "rf-1",
                             .rating_id = "ra-1",
                             .member_id = "m-1",
                             .now = kNow,
                             .actor = "operator:o-1",
                             .reason = "fraud",
                             .reverse_refund = false};
  EXPECT_EQ(BuildMarkAbusiveCall(keys_, keep).args[3], "0");
}

TEST(MarkAbusiveReply, ParsesEveryAnswer) {
  auto marked = ParseMarkAbusiveReply(Texts({"OK", "2", "1", "0"}));
  ASSERT_TRUE(marked.ok()) << marked.status();
  EXPECT_EQ(marked->answer, MarkAbusiveAnswer::kMarked);
  EXPECT_EQ(marked->feedback_reversed, 2);
  EXPECT_TRUE(marked->refund_reversed);
  EXPECT_FALSE(marked->reversal_pending);
  auto pending = ParseMarkAbusiveReply(Texts({"OK", "0", "0", "1"}));
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_TRUE(pending->reversal_pending);
  EXPECT_EQ(ParseMarkAbusiveReply(Texts({"ALREADY"}))->answer,
            MarkAbusiveAnswer::kAlready);
  EXPECT_EQ(ParseMarkAbusiveReply(Texts({"MISSING"}))->answer,
            MarkAbusiveAnswer::kMissing);
}

TEST(MarkAbusiveReply, RefusesAShortOkAFlagThatIsNotABitOrAnUnknownAnswer) {
  ExpectMalformed(ParseMarkAbusiveReply(Texts({"OK", "2", "1"})),
                  "mark_abusive");
  ExpectMalformed(ParseMarkAbusiveReply(Texts({"OK", "x", "1", "0"})),
                  "mark_abusive");
  ExpectMalformed(ParseMarkAbusiveReply(Texts({"OK", "2", "2", "0"})),
                  "mark_abusive");
  ExpectMalformed(ParseMarkAbusiveReply(Texts({"DONE"})), "mark_abusive");
}

// --- redrive_refund ---

TEST_F(StoreScriptCallsTest, RedriveSendsTheRefundOutboxAndAttentionKeys) {
  ScriptCall call = BuildRedriveRefundCall(
      keys_, RedriveRefundRequest{.partition = p_,
                                  .refund_id = "rf-1",
                                  .now = kNow,
                                  .actor = "operator:o-1",
                                  .reason = "fixed"});
  EXPECT_THAT(
      call.keys,
      ElementsAre(keys_.RefundKey(p_, "rf-1"),
                  keys_.RefundEventsKey(p_, "rf-1"), keys_.RefundFeedKey(p_),
                  keys_.OutboxKey(p_), keys_.AttentionKey(p_)));
  ExpectOneSlot(call.keys);
  EXPECT_THAT(call.args, ElementsAre("1780272000123", "operator:o-1", "fixed"));
}

TEST(RedriveRefundReply, ParsesEveryAnswer) {
  auto redriven = ParseRedriveRefundReply(Texts({"REDRIVEN", "9-0"}));
  ASSERT_TRUE(redriven.ok()) << redriven.status();
  EXPECT_EQ(redriven->answer, RedriveRefundAnswer::kRedriven);
  EXPECT_EQ(redriven->outbox_entry_id, "9-0");
  auto in_progress =
      ParseRedriveRefundReply(Texts({"IN_PROGRESS", "SETTLING"}));
  ASSERT_TRUE(in_progress.ok()) << in_progress.status();
  EXPECT_EQ(in_progress->answer, RedriveRefundAnswer::kInProgress);
  EXPECT_EQ(in_progress->state, "SETTLING");
  auto final = ParseRedriveRefundReply(Texts({"NOT_REDRIVABLE", "SUCCEEDED"}));
  ASSERT_TRUE(final.ok()) << final.status();
  EXPECT_EQ(final->answer, RedriveRefundAnswer::kNotRedrivable);
  EXPECT_EQ(final->state, "SUCCEEDED");
  EXPECT_EQ(ParseRedriveRefundReply(Texts({"MISSING"}))->answer,
            RedriveRefundAnswer::kMissing);
}

TEST(RedriveRefundReply, RefusesAnAnswerWithoutItsValueOrAnUnknownOne) {
  ExpectMalformed(ParseRedriveRefundReply(Texts({"REDRIVEN"})),
                  "redrive_refund");
  ExpectMalformed(ParseRedriveRefundReply(Texts({"NOT_REDRIVABLE"})),
                  "redrive_refund");
  ExpectMalformed(ParseRedriveRefundReply(Texts({"OK"})), "redrive_refund");
}

// --- attention_page ---

TEST_F(StoreScriptCallsTest, AttentionPageSendsTheIndexCursorAndCount) {
  ScriptCall call = BuildAttentionPageCall(
      keys_, AttentionPageRequest{.partition = p_,
                                  .cursor_ms = "1780000000000",
                                  .cursor_id = "rf-1",
                                  .count = 21});
  EXPECT_THAT(call.keys, ElementsAre(keys_.AttentionKey(p_)));
  EXPECT_THAT(call.args, ElementsAre("1780000000000", "rf-1", "21"));
}

TEST(AttentionPageReply, ReadsTheIndexSizeAndItsEntries) {
  auto reply =
      ParseAttentionPageReply(Reply({Reply(int64_t{5}), Reply("rf-1"),
                                     Reply("10"), Reply("rf-2"), Reply("20")}));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->total, 5);
  ASSERT_EQ(reply->entries.size(), 2u);
  EXPECT_EQ(reply->entries[1].id, "rf-2");
  EXPECT_EQ(reply->entries[1].score, "20");
  auto empty = ParseAttentionPageReply(Reply({Reply(int64_t{0})}));
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_THAT(empty->entries, IsEmpty());
}

TEST(AttentionPageReply, RefusesAMissingCountOrAnUnpairedEntry) {
  ExpectMalformed(ParseAttentionPageReply(Reply(std::vector<RedisReply>{})),
                  "attention_page");
  ExpectMalformed(ParseAttentionPageReply(Texts({"rf-1", "10"})),
                  "attention_page");
  ExpectMalformed(
      ParseAttentionPageReply(Reply({Reply(int64_t{1}), Reply("rf-1")})),
      "attention_page");
}

// --- refund_page ---

TEST_F(StoreScriptCallsTest, RefundPageSendsTheMembersOrTheOrdersIndex) {
  ScriptCall member = BuildRefundPageCall(
      keys_, RefundPageRequest{.partition = p_,
                               .index = RefundIndex::kMember,
                               .owner_id = "m-1",
                               .cursor_score = "+inf",
                               .cursor_id = "",
                               .page_size = 20});
  EXPECT_THAT(member.keys, ElementsAre(keys_.MemberRefundsKey(p_, "m-1")));
  EXPECT_THAT(member.args, ElementsAre("+inf", "", "20"));
  ScriptCall order = BuildRefundPageCall(
      keys_, RefundPageRequest{.partition = p_,
                               .index = RefundIndex::kOrder,
                               .owner_id = "o-1",
                               .cursor_score = "1780000000000",
                               .cursor_id = "rf-3",
                               .page_size = 5});
  EXPECT_THAT(order.keys, ElementsAre(keys_.OrderRefundsKey(p_, "o-1")));
  EXPECT_THAT(order.args, ElementsAre("1780000000000", "rf-3", "5"));
}

TEST(RefundPageReply, ReadsIdScorePairs) {
  auto reply = ParseRefundPageReply(Texts({"rf-2", "20", "rf-1", "10"}));
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_EQ(reply->size(), 2u);
  EXPECT_EQ((*reply)[0].id, "rf-2");
  EXPECT_EQ((*reply)[1].score, "10");
  EXPECT_THAT(*ParseRefundPageReply(Texts({})), IsEmpty());
}

TEST(RefundPageReply, RefusesAnUnpairedEntryOrANonArray) {
  ExpectMalformed(ParseRefundPageReply(Texts({"rf-2"})), "refund_page");
  ExpectMalformed(ParseRefundPageReply(Reply(int64_t{0})), "refund_page");
}

// --- read_hashes ---

TEST_F(StoreScriptCallsTest, ReadHashesSendsTheKeysAndTheFieldsAsGiven) {
  std::vector<std::string> hashes = {keys_.RefundKey(p_, "rf-1"),
                                     keys_.RefundKey(p_, "rf-2")};
  ScriptCall call = BuildReadHashesCall(
      ReadHashesRequest{.keys = hashes, .fields = {"pb", "state"}});
  EXPECT_EQ(call.keys, hashes);
  ExpectOneSlot(call.keys);
  EXPECT_THAT(call.args, ElementsAre("pb", "state"));
}

TEST(ReadHashesReply, ARowIsItsFieldsOrNulloptWhenTheRecordIsGone) {
  auto rows = ParseReadHashesReply(Reply({Reply({Reply("PB"), NilReply()}),
                                          Reply({NilReply(), NilReply()})}),
                                   2, 2);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  ASSERT_TRUE((*rows)[0].has_value());
  EXPECT_THAT(*(*rows)[0], ElementsAre("PB", ""));  // A missing field: "".
  EXPECT_FALSE((*rows)[1].has_value());
}

TEST(ReadHashesReply, RefusesAWrongRowCountOrRowWidth) {
  ExpectMalformed(ParseReadHashesReply(Reply({Texts({"PB", "S"})}), 2, 2),
                  "read_hashes");
  ExpectMalformed(ParseReadHashesReply(Reply({Texts({"PB"})}), 1, 2),
                  "read_hashes");
  ExpectMalformed(ParseReadHashesReply(
                      Reply({Reply({Reply("PB"), Reply(int64_t{1})})}), 1, 2),
                  "read_hashes");
  ExpectMalformed(ParseReadHashesReply(Reply("PB"), 1, 1), "read_hashes");
}

}  // namespace
}  // namespace makegood::store
