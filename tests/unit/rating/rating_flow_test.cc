// Every branch of the SubmitRating protocol in RatingFlow, against
// testing::FakeRedis: each answer of admit_rating, commit_rating's STALE /
// LOST_CLAIM / CEILING / DONE, lost replies and timeouts, a Redis that is
// down, the release of a claim on every failure after it, and both rate
// limits. Each test checks what the caller gets and what was sent.
#include "services/rating/rating_flow.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "makegood/storage/v1/records.pb.h"
#include "services/errors/errors.h"
#include "services/policy/policy_config.h"
#include "services/policy_file/policy_document.h"
#include "services/policy_proto/policy_convert.h"
#include "services/rating/admit_script.h"
#include "services/rating/commit_script.h"
#include "services/rating/rating_ids.h"
#include "services/rating/release_script.h"
#include "services/store/key_schema.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_redis.h"
#include "tests/testing/samples.h"

namespace makegood::rating {
namespace {

using ::makegood::testing::FakeClock;
using ::makegood::testing::FakeRedis;
using ::makegood::testing::NilReply;
using ::makegood::testing::Reply;
using redis::RedisReply;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Fault = FakeRedis::Fault;

const absl::Time kNow = absl::FromUnixSeconds(1780272000);
constexpr char kCaller[] = "client-1";

policy_file::PolicySnapshot DefaultPolicy() {
  auto snapshot = policy_file::BuildPolicySnapshot(
      policy_proto::FromPolicyConfig(policy::DefaultPolicyConfig()), kNow);
  EXPECT_TRUE(snapshot.ok()) << snapshot.status();
  return *std::move(snapshot);
}

v1::Order SampleOrder() {
  return testing::SampleOrder("m-1", "o-1", kNow - absl::Hours(1));
}

v1::Member SampleMember() { return testing::SampleMember("m-1"); }

// The melted frozen line, rated 50%.
v1::SubmitRatingRequest MeltedRating(const std::string& key,
                                     int satisfaction = 50) {
  v1::SubmitRatingRequest r;
  r.set_idempotency_key(key);
  r.set_member_id("m-1");
  r.set_order_id("o-1");
  r.set_satisfaction_percent(satisfaction);
  auto* line = r.add_line_ratings();
  line->set_line_id("l1");
  line->set_satisfaction_percent(satisfaction);
  line->add_reasons(v1::REASON_MELTED_OR_WARM);
  return r;
}

RedisReply Tagged(std::vector<RedisReply> elements) {
  return Reply(std::move(elements));
}

// A FRESH admit answer for the sample order and member, never rated.
RedisReply Fresh(const std::string& stats_version = "", int64_t remaining = 9) {
  std::vector<RedisReply> stats;
  if (!stats_version.empty()) {
    stats = {Reply("ver"), Reply(stats_version)};
  }
  return Tagged({Reply("FRESH"), Reply(SampleOrder().SerializeAsString()),
                 Reply("0"), Reply(SampleMember().SerializeAsString()),
                 Reply(std::move(stats)), Reply(remaining), Reply(int64_t{0}),
                 Reply(int64_t{0}), Reply("0"), Reply("")});
}

RedisReply Answer(const std::string& tag) { return Tagged({Reply(tag)}); }

// What the flow reported to its observer (FakeRedis answers inline, so on
// the test's thread).
struct Reported final : RatingObserver {
  void OnCommitted(const v1::Decision& decision) override {
    ++committed;
    last_committed = decision;
  }
  void OnReplayed() override { ++replayed; }
  void OnStaleRetry() override { ++stale_retries; }
  void OnRateLimited(absl::string_view scope, bool enforced) override {
    if (scope == "member") {
      ++(enforced ? limited_member : shadow_member);
    } else {
      ++(enforced ? limited_client : shadow_client);
    }
  }

  uint64_t committed = 0;
  v1::Decision last_committed;
  uint64_t replayed = 0;
  uint64_t stale_retries = 0;
  uint64_t limited_member = 0;
  uint64_t limited_client = 0;
  uint64_t shadow_member = 0;
  uint64_t shadow_client = 0;
};

class RatingFlowTest : public ::testing::Test {
 protected:
  RatingFlowTest()
      : keys_(*store::KeySchema::Create(16)),
        clock_(kNow),
        policy_(DefaultPolicy()) {
    // The happy path unless a test queues something else.
    redis_.On("admit_rating", [](const FakeRedis::Call&) {
      return absl::StatusOr<RedisReply>(Fresh());
    });
    redis_.On("rate_limit", [](const FakeRedis::Call&) {
      return absl::StatusOr<RedisReply>(
          Reply({Reply(int64_t{1}), Reply(int64_t{0}), Reply(int64_t{3999}),
                 Reply(int64_t{0}), Reply(int64_t{1}), Reply(int64_t{1})}));
    });
    redis_.On("commit_rating", [](const FakeRedis::Call&) {
      return absl::StatusOr<RedisReply>(Answer("OK"));
    });
    redis_.On("release_rating", [](const FakeRedis::Call&) {
      return absl::StatusOr<RedisReply>(Reply(int64_t{1}));
    });
  }

  RatingFlow& flow() {
    if (flow_ == nullptr) {
      flow_ =
          std::make_unique<RatingFlow>(redis_, keys_, policy_, clock_, options_,
                                       /*shadow=*/nullptr, &reported_);
    }
    return *flow_;
  }

  // Submits and returns the result; FakeRedis answers inline.
  RatingResult Submit(const v1::SubmitRatingRequest& request) {
    std::optional<RatingResult> out;
    flow().Submit(kCaller, &request,
                  [&](RatingResult result) { out = std::move(result); });
    EXPECT_TRUE(out.has_value()) << "done did not run";
    return out.has_value() ? *std::move(out) : RatingResult{};
  }

  RatingIds Ids(const std::string& key) const {
    return DeriveRatingIds(kCaller, "SubmitRating", "m-1", key,
                           keys_.PartitionOf("m-1"));
  }

  std::string IdemKey(const std::string& key) const {
    RatingIds ids = Ids(key);
    return keys_.IdempotencyKey(ids.partition, ids.scope_hash);
  }

  // The claim token the (first) admit sent.
  std::string AdmitToken() const {
    auto admits = redis_.calls("admit_rating");
    return admits.empty() ? "" : admits[0].args[1];
  }

  // Asserts one release of this key's claim with the admit's token.
  void ExpectReleased(const std::string& key) const {
    auto releases = redis_.calls("release_rating");
    ASSERT_EQ(releases.size(), 1u);
    EXPECT_THAT(releases[0].keys, ElementsAre(IdemKey(key)));
    EXPECT_THAT(releases[0].args, ElementsAre(AdmitToken()));
  }

  FakeRedis redis_;
  store::KeySchema keys_;
  FakeClock clock_;
  policy_file::ActivePolicy policy_;
  RatingFlowOptions options_;
  Reported reported_;
  std::unique_ptr<RatingFlow> flow_;
};

TEST_F(RatingFlowTest, AFreshRatingIsAdmittedDecidedAndCommittedOnce) {
  RatingResult result = Submit(MeltedRating("k-1"));
  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_FALSE(result.response.replayed());
  RatingIds ids = Ids("k-1");
  EXPECT_EQ(result.response.rating_id(), ids.rating_id);
  ASSERT_TRUE(result.response.decision().has_refund());
  EXPECT_EQ(result.response.decision().refund().amount_minor(), 1200);
  EXPECT_EQ(result.response.decision().refund().refund_id(), ids.refund_id);
  EXPECT_EQ(reported_.committed, 1u);
  EXPECT_EQ(reported_.last_committed.refund().amount_minor(), 1200);

  // Round trip 1: the client's limit and the admit, with the scope's keys.
  auto limits = redis_.calls("rate_limit");
  ASSERT_EQ(limits.size(), 1u);
  EXPECT_THAT(limits[0].keys, ElementsAre(keys_.ClientLimiterKey(kCaller)));
  // A lease of 100 cells: 50 ms of 2000/s.
  EXPECT_THAT(limits[0].args, ElementsAre("0.5", "4000", "0", "100"));
  auto admits = redis_.calls("admit_rating");
  ASSERT_EQ(admits.size(), 1u);
  EXPECT_THAT(
      admits[0].keys,
      ElementsAre(IdemKey("k-1"), keys_.MemberKey("m-1"),
                  keys_.MemberStatsKey("m-1"), keys_.OrderKey("m-1", "o-1"),
                  keys_.MemberLimiterKey("m-1"),
                  keys_.RatingKey(ids.partition, ids.rating_id)));
  const std::vector<std::string>& a = admits[0].args;
  ASSERT_EQ(a.size(), 10u);
  EXPECT_EQ(a[0], RequestFingerprint(MeltedRating("k-1")));
  EXPECT_EQ(a[1].size(), 32u);  // The claim token.
  EXPECT_EQ(a[2], "10000");     // Claim lease.
  EXPECT_EQ(a[3], absl::StrCat(absl::ToUnixMillis(kNow)));
  EXPECT_EQ(a[4], "m-1");
  EXPECT_EQ(a[5], "2000");  // 30/m.
  EXPECT_EQ(a[6], "10");
  EXPECT_EQ(a[7], "0");
  EXPECT_EQ(a[9], "l1");

  // Round trip 2: the commit, under the same claim, in one hash slot.
  auto commits = redis_.calls("commit_rating");
  ASSERT_EQ(commits.size(), 1u);
  const FakeRedis::Call& c = commits[0];
  ASSERT_EQ(c.keys.size(), 20u);
  EXPECT_EQ(c.keys[0], IdemKey("k-1"));
  EXPECT_EQ(c.keys[16], keys_.OpenOrdersKey(ids.partition));
  EXPECT_EQ(c.keys[17], keys_.TroublesKey(ids.partition, "m-1"));
  EXPECT_EQ(c.keys[18], keys_.TroublesDueKey(ids.partition));
  EXPECT_EQ(c.keys[4], keys_.RefundKey(ids.partition, ids.refund_id));
  EXPECT_EQ(c.keys[9], keys_.OutboxKey(ids.partition));
  for (const std::string& key : c.keys) {
    EXPECT_TRUE(absl::StartsWith(key, keys_.PartitionPrefix(ids.partition)))
        << key;
  }
  EXPECT_EQ(c.args[0], AdmitToken());
  EXPECT_EQ(c.args[1], "0");     // Stats version of a member never rated.
  EXPECT_EQ(c.args[6], "1200");  // The refund.
  EXPECT_EQ(c.args[7], "1");     // Money: counts toward the ceiling.
  EXPECT_EQ(c.args[11], "EUR");
  EXPECT_EQ(c.args[12], "m-1");
  // A claim is a trouble: tracked from now, its first window closing in 7
  // days, labelled by how it was handled.
  ASSERT_GE(c.args.size(), 3u);
  // Then the experiment arm (none) and made good at once.
  EXPECT_EQ(c.args[c.args.size() - 2], "");
  EXPECT_EQ(c.args[c.args.size() - 1], "1");
  const size_t t = c.args.size() - 5;
  EXPECT_THAT(
      absl::StrSplit(c.args[t], '\t'),
      ElementsAre(absl::StrCat(absl::ToUnixMillis(kNow)), "EUR", ids.refund_id,
                  "1200", "REFUND", "claim", "ORIGINAL_PAYMENT", "up_to_50pct",
                  result.response.decision().policy_version(), "none",
                  "premium", "store-1", "courier-1"));
  EXPECT_EQ(c.args[t + 1], absl::StrCat(ids.rating_id, "\tm-1\t", ids.refund_id,
                                        "\tstore-1\tcourier-1"));
  EXPECT_EQ(c.args[t + 2],
            absl::StrCat(absl::ToUnixMillis(kNow + absl::Hours(8 * 24))));
  v1::SubmitRatingResponse stored;
  ASSERT_TRUE(stored.ParseFromString(c.args[3]));
  EXPECT_EQ(stored.SerializeAsString(), result.response.SerializeAsString());
  storage::v1::RatingRecord record;
  ASSERT_TRUE(record.ParseFromString(c.args[5]));
  EXPECT_EQ(record.caller(), kCaller);
  EXPECT_EQ(redis_.count("release_rating"), 0);
  EXPECT_TRUE(redis_.unexpected().empty());
}

TEST_F(RatingFlowTest, ACommitWithoutRefundStillNamesTheOrdersCurrency) {
  // A happy rating gets no refund; its commit still keeps the member's
  // money per currency (budget, history) and takes the order out of the
  // open orders of its currency.
  v1::SubmitRatingRequest happy = MeltedRating("k-1", 100);
  happy.clear_line_ratings();
  RatingResult result = Submit(happy);
  ASSERT_TRUE(result.status.ok()) << result.status;
  ASSERT_FALSE(result.response.decision().has_refund());
  auto commits = redis_.calls("commit_rating");
  ASSERT_EQ(commits.size(), 1u);
  EXPECT_EQ(commits[0].args[6], "0");  // No refund.
  EXPECT_EQ(commits[0].args[11], SampleOrder().currency());
  EXPECT_EQ(commits[0].keys[16], keys_.OpenOrdersKey(keys_.PartitionOf("m-1")));
}

TEST_F(RatingFlowTest, AReplayIsAnsweredFromTheStoredResponseWithoutACommit) {
  v1::SubmitRatingResponse stored;
  stored.set_rating_id("rt_stored");
  redis_.Answer("admit_rating",
                Tagged({Reply("REPLAY"), Reply(stored.SerializeAsString())}));
  RatingResult result = Submit(MeltedRating("k-1"));
  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_TRUE(result.response.replayed());
  EXPECT_EQ(result.response.rating_id(), "rt_stored");
  EXPECT_EQ(reported_.replayed, 1u);
  EXPECT_EQ(redis_.count("commit_rating"), 0);
  EXPECT_EQ(redis_.count("release_rating"), 0);
}

TEST_F(RatingFlowTest, AReplayThatDoesNotParseIsDataLoss) {
  redis_.Answer("admit_rating",
                Tagged({Reply("REPLAY"), Reply("\xff not a response")}));
  EXPECT_EQ(Submit(MeltedRating("k-1")).status.code(),
            absl::StatusCode::kDataLoss);
}

storage::v1::RatingRecord Recorded(const v1::SubmitRatingRequest& request) {
  storage::v1::RatingRecord record;
  record.set_rating_id("rt_recorded");
  *record.mutable_request() = request;
  record.mutable_decision()->set_outcome(v1::OUTCOME_REFUND);
  return record;
}

TEST_F(RatingFlowTest, ARecordedRatingAnswersALateRetryOfTheSameRequest) {
  redis_.Answer(
      "admit_rating",
      Tagged({Reply("RECORDED"),
              Reply(Recorded(MeltedRating("k-1")).SerializeAsString())}));
  RatingResult result = Submit(MeltedRating("k-1"));
  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_TRUE(result.response.replayed());
  EXPECT_EQ(result.response.rating_id(), "rt_recorded");
  EXPECT_EQ(result.response.decision().outcome(), v1::OUTCOME_REFUND);
  EXPECT_EQ(redis_.count("commit_rating"), 0);
}

TEST_F(RatingFlowTest, ARecordedRatingRefusesAnotherPayloadOnItsKey) {
  redis_.Answer(
      "admit_rating",
      Tagged({Reply("RECORDED"),
              Reply(Recorded(MeltedRating("k-1", 10)).SerializeAsString())}));
  RatingResult result = Submit(MeltedRating("k-1"));
  EXPECT_EQ(result.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReason(result.status), "IDEMPOTENCY_KEY_REUSED");
  EXPECT_EQ(redis_.count("commit_rating"), 0);
}

// Admit answers that refuse before any claim: no commit and no release.
struct Refusal {
  std::string name;
  RedisReply answer;
  absl::StatusCode code;
  std::string reason;
};

class AdmitRefusalTest : public RatingFlowTest,
                         public ::testing::WithParamInterface<Refusal> {};

TEST_P(AdmitRefusalTest, IsAnsweredWithItsCodeAndReasonAndNothingCommitted) {
  redis_.Answer("admit_rating", GetParam().answer);
  RatingResult result = Submit(MeltedRating("k-1"));
  EXPECT_EQ(result.status.code(), GetParam().code) << result.status;
  EXPECT_EQ(ErrorReason(result.status), GetParam().reason);
  EXPECT_EQ(redis_.count("commit_rating"), 0);
  EXPECT_EQ(redis_.count("release_rating"), 0);
  EXPECT_EQ(reported_.committed, 0u);
}

INSTANTIATE_TEST_SUITE_P(
    EveryAnswer, AdmitRefusalTest,
    ::testing::Values(
        Refusal{"Reused", Answer("REUSED"),
                absl::StatusCode::kFailedPrecondition,
                "IDEMPOTENCY_KEY_REUSED"},
        Refusal{"InFlight", Answer("INFLIGHT"), absl::StatusCode::kAborted,
                "IDEMPOTENCY_KEY_IN_FLIGHT"},
        Refusal{"NotOwner", Answer("NOT_OWNER"),
                absl::StatusCode::kPermissionDenied, "NOT_ORDER_MEMBER"},
        Refusal{"NoMember", Answer("NO_MEMBER"),
                absl::StatusCode::kFailedPrecondition, "MEMBER_NOT_FOUND"},
        Refusal{"WindowClosed", Answer("WINDOW_CLOSED"),
                absl::StatusCode::kFailedPrecondition, "RATING_WINDOW_CLOSED"},
        Refusal{"UnknownLine", Tagged({Reply("UNKNOWN_LINE"), Reply("l1")}),
                absl::StatusCode::kInvalidArgument, ""}),
    [](const ::testing::TestParamInfo<Refusal>& refusal) {
      return refusal.param.name;
    });

TEST_F(RatingFlowTest, AnUnknownLineNamesTheFieldOfThatLine) {
  redis_.Answer("admit_rating", Tagged({Reply("UNKNOWN_LINE"), Reply("l1")}));
  RatingResult result = Submit(MeltedRating("k-1"));
  EXPECT_EQ(result.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status.message(), HasSubstr("line_ratings[0].line_id"));
}

TEST_F(RatingFlowTest, AMissingOrderOfNobodyIsNotFound) {
  redis_.Answer("admit_rating", Answer("NO_ORDER"));
  redis_.Answer("GET", NilReply());
  RatingResult result = Submit(MeltedRating("k-1"));
  EXPECT_EQ(result.status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorReason(result.status), "ORDER_NOT_FOUND");
  auto gets = redis_.calls("GET");
  ASSERT_EQ(gets.size(), 1u);
  EXPECT_THAT(gets[0].argv, ElementsAre("GET", keys_.OrderOwnerKey("o-1")));
}

TEST_F(RatingFlowTest, AMissingOrderOfAnotherMemberIsPermissionDenied) {
  redis_.Answer("admit_rating", Answer("NO_ORDER"));
  redis_.Answer("GET", Reply("m-2"));
  RatingResult result = Submit(MeltedRating("k-1"));
  EXPECT_EQ(result.status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrorReason(result.status), "NOT_ORDER_MEMBER");
}

TEST_F(RatingFlowTest, TheOwnerLookupFailingIsUnavailable) {
  redis_.Answer("admit_rating", Answer("NO_ORDER"));
  redis_.Inject("GET", Fault::kTimeout);
  EXPECT_EQ(Submit(MeltedRating("k-1")).status.code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(RatingFlowTest, TheMembersLimitRefusesWithRetryAfterHeaders) {
  redis_.Answer("admit_rating", Tagged({Reply("LIMITED"), Reply(int64_t{2500}),
                                        Reply(int64_t{60000})}));
  RatingResult result = Submit(MeltedRating("k-1"));
  EXPECT_EQ(result.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrorReason(result.status), "RATE_LIMITED");
  ASSERT_TRUE(result.rate_limit.has_value());
  EXPECT_EQ(result.rate_limit->scope, "member");
  EXPECT_EQ(result.rate_limit->retry_after_seconds, 3);
  EXPECT_EQ(result.rate_limit->reset_seconds, 60);
  EXPECT_EQ(result.rate_limit->limit, 10);
  EXPECT_EQ(reported_.limited_member, 1u);
  EXPECT_EQ(redis_.count("commit_rating"), 0);
  EXPECT_EQ(redis_.count("release_rating"), 0);
}

TEST_F(RatingFlowTest, TheClientsLimitRefusesAndReleasesTheClaim) {
  redis_.Answer("rate_limit", Reply({Reply(int64_t{0}), Reply(int64_t{0}),
                                     Reply(int64_t{0}), Reply(int64_t{1500}),
                                     Reply(int64_t{2000}), Reply(int64_t{0})}));
  RatingResult result = Submit(MeltedRating("k-1"));
  EXPECT_EQ(result.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrorReason(result.status), "RATE_LIMITED");
  ASSERT_TRUE(result.rate_limit.has_value());
  EXPECT_EQ(result.rate_limit->scope, "client");
  EXPECT_EQ(result.rate_limit->retry_after_seconds, 2);
  EXPECT_EQ(result.rate_limit->limit, 4000);
  EXPECT_EQ(reported_.limited_client, 1u);
  EXPECT_EQ(redis_.count("commit_rating"), 0);
  ExpectReleased("k-1");
}

TEST_F(RatingFlowTest, ShadowLimitsCountButNeverRefuse) {
  redis_.Answer("admit_rating", [] {
    RedisReply fresh = Fresh();
    fresh.elements[7] = Reply(int64_t{1});  // Would reject.
    return fresh;
  }());
  redis_.Answer("rate_limit", Reply({Reply(int64_t{1}), Reply(int64_t{1}),
                                     Reply(int64_t{0}), Reply(int64_t{0}),
                                     Reply(int64_t{1}), Reply(int64_t{1})}));
  RatingResult result = Submit(MeltedRating("k-1"));
  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(reported_.shadow_member, 1u);
  EXPECT_EQ(reported_.shadow_client, 1u);
  // The lower of the two remainders is reported.
  ASSERT_TRUE(result.rate_limit.has_value());
  EXPECT_EQ(result.rate_limit->scope, "client");
  EXPECT_EQ(result.rate_limit->remaining, 0);
}

TEST_F(RatingFlowTest, ALeasedCellAnswersTheNextRatingsWithoutAScript) {
  // The client's limit alone (the default 2000/s, burst 4000).
  options_.limits = *RateLimits::Parse("SubmitRating.member=off");
  redis_.Answer("rate_limit", Reply({Reply(int64_t{1}), Reply(int64_t{0}),
                                     Reply(int64_t{3900}), Reply(int64_t{0}),
                                     Reply(int64_t{50}), Reply(int64_t{3})}));
  for (int i = 0; i < 3; ++i) {
    RatingResult result = Submit(MeltedRating(absl::StrCat("k-", i)));
    ASSERT_TRUE(result.status.ok()) << result.status;
    ASSERT_TRUE(result.rate_limit.has_value());
    EXPECT_EQ(result.rate_limit->scope, "client");
    EXPECT_EQ(result.rate_limit->remaining, 3900 + 2 - i);
  }
  EXPECT_EQ(redis_.count("rate_limit"), 1);
  // The lease is used up: the fourth rating leases again.
  ASSERT_TRUE(Submit(MeltedRating("k-3")).status.ok());
  EXPECT_EQ(redis_.count("rate_limit"), 2);
}

TEST_F(RatingFlowTest, DisabledLimitsAreNeitherCheckedNorSent) {
  options_.limits =
      *RateLimits::Parse("SubmitRating.member=off,SubmitRating.client=off");
  RatingResult result = Submit(MeltedRating("k-1"));
  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(redis_.count("rate_limit"), 0);
  EXPECT_EQ(redis_.calls("admit_rating")[0].args[5], "0");
  EXPECT_FALSE(result.rate_limit.has_value());
}

TEST_F(RatingFlowTest, StaleDecidesAgainOnAFreshSnapshotUnderTheSameClaim) {
  redis_.Answer("commit_rating", Answer("STALE"));
  redis_.Answer("admit_rating", Fresh());
  redis_.Answer("admit_rating", Fresh("7"));  // Another rating committed.
  RatingResult result = Submit(MeltedRating("k-1"));
  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_FALSE(result.response.replayed());
  EXPECT_EQ(reported_.stale_retries, 1u);
  EXPECT_EQ(reported_.committed, 1u);
  auto admits = redis_.calls("admit_rating");
  ASSERT_EQ(admits.size(), 2u);
  EXPECT_EQ(admits[1].args[1], admits[0].args[1]) << "a new claim token";
  EXPECT_EQ(redis_.count("rate_limit"), 1) << "the client charged twice";
  auto commits = redis_.calls("commit_rating");
  ASSERT_EQ(commits.size(), 2u);
  EXPECT_EQ(commits[0].args[1], "0");
  EXPECT_EQ(commits[1].args[1], "7") << "not the fresh stats version";
  EXPECT_EQ(redis_.count("release_rating"), 0);
}

TEST_F(RatingFlowTest, StaleEveryTimeGivesUpAfterMaxAttemptsAndReleases) {
  options_.max_attempts = 3;
  redis_.On("commit_rating", [](const FakeRedis::Call&) {
    return absl::StatusOr<RedisReply>(Answer("STALE"));
  });
  RatingResult result = Submit(MeltedRating("k-1"));
  EXPECT_EQ(result.status.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(ErrorReason(result.status), "CONCURRENT_UPDATE");
  EXPECT_EQ(redis_.count("admit_rating"), 3);
  EXPECT_EQ(redis_.count("commit_rating"), 3);
  EXPECT_EQ(reported_.stale_retries, 2u);
  ExpectReleased("k-1");
}

TEST_F(RatingFlowTest, ALostClaimIsInFlightAndLeavesTheNewHoldersClaim) {
  redis_.Answer("commit_rating", Answer("LOST_CLAIM"));
  RatingResult result = Submit(MeltedRating("k-1"));
  EXPECT_EQ(result.status.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(ErrorReason(result.status), "IDEMPOTENCY_KEY_IN_FLIGHT");
  EXPECT_EQ(redis_.count("release_rating"), 0);
  EXPECT_EQ(reported_.committed, 0u);
}

TEST_F(RatingFlowTest, TheCeilingRefusesAsConcurrentUpdateAndReleases) {
  redis_.Answer("commit_rating",
                Tagged({Reply("CEILING"), Reply("2500"), Reply("3000")}));
  RatingResult result = Submit(MeltedRating("k-1"));
  EXPECT_EQ(result.status.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(ErrorReason(result.status), "CONCURRENT_UPDATE");
  EXPECT_EQ(reported_.committed, 0u);
  ExpectReleased("k-1");
}

TEST_F(RatingFlowTest, DoneAdmitsAgainAndAnswersWhatWasStored) {
  v1::SubmitRatingResponse stored;
  stored.set_rating_id(Ids("k-1").rating_id);
  redis_.Answer("commit_rating", Answer("DONE"));
  redis_.Answer("admit_rating", Fresh());
  redis_.Answer("admit_rating",
                Tagged({Reply("REPLAY"), Reply(stored.SerializeAsString())}));
  RatingResult result = Submit(MeltedRating("k-1"));
  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_TRUE(result.response.replayed());
  EXPECT_EQ(redis_.count("admit_rating"), 2);
  EXPECT_EQ(redis_.count("commit_rating"), 1);
  EXPECT_EQ(reported_.committed, 0u);
}

TEST_F(RatingFlowTest, DoneEveryTimeGivesUpAfterMaxAttempts) {
  options_.max_attempts = 2;
  redis_.On("commit_rating", [](const FakeRedis::Call&) {
    return absl::StatusOr<RedisReply>(Answer("DONE"));
  });
  RatingResult result = Submit(MeltedRating("k-1"));
  EXPECT_EQ(result.status.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(ErrorReason(result.status), "CONCURRENT_UPDATE");
  EXPECT_EQ(redis_.count("commit_rating"), 2);
  ExpectReleased("k-1");
}

// A small model of the idempotency record, enough for a lost reply: the
// commit stores the response, a later admit replays it, and a release never
// touches a completed record.
class IdempotencyModel {
 public:
  explicit IdempotencyModel(FakeRedis& redis) {
    redis.On("admit_rating", [this](const FakeRedis::Call& call) {
      auto done = responses_.find(call.keys[0]);
      if (done != responses_.end()) {
        return absl::StatusOr<RedisReply>(
            Tagged({Reply("REPLAY"), Reply(done->second)}));
      }
      return absl::StatusOr<RedisReply>(Fresh());
    });
    redis.On("commit_rating", [this](const FakeRedis::Call& call) {
      ++commits_run;
      responses_[call.keys[0]] = call.args[3];
      return absl::StatusOr<RedisReply>(Answer("OK"));
    });
    redis.On("release_rating", [this](const FakeRedis::Call& call) {
      return absl::StatusOr<RedisReply>(
          Reply(int64_t{responses_.contains(call.keys[0]) ? 0 : 1}));
    });
  }
  int commits_run = 0;

 private:
  absl::flat_hash_map<std::string, std::string> responses_;
};

TEST_F(RatingFlowTest, ACommitWhoseReplyIsLostIsUnavailableAndTheRetryReplays) {
  IdempotencyModel model(redis_);
  redis_.Inject("commit_rating", Fault::kLoseReply);
  RatingResult lost = Submit(MeltedRating("k-1"));
  EXPECT_EQ(lost.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(model.commits_run, 1);
  ExpectReleased("k-1");  // Best effort; the completed record stays.

  RatingResult retry = Submit(MeltedRating("k-1"));
  ASSERT_TRUE(retry.status.ok()) << retry.status;
  EXPECT_TRUE(retry.response.replayed());
  EXPECT_EQ(retry.response.rating_id(), Ids("k-1").rating_id);
  EXPECT_EQ(retry.response.decision().refund().amount_minor(), 1200);
  EXPECT_EQ(model.commits_run, 1) << "the retry paid twice";
  EXPECT_EQ(redis_.count("commit_rating"), 1);
}

TEST_F(RatingFlowTest, AnAdmitTimeoutIsUnavailableWithNothingToRelease) {
  redis_.Inject("admit_rating", Fault::kTimeout);
  RatingResult result = Submit(MeltedRating("k-1"));
  EXPECT_EQ(result.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(redis_.count("commit_rating"), 0);
  EXPECT_EQ(redis_.count("release_rating"), 0);
}

TEST_F(RatingFlowTest, ACommitTimeoutIsUnavailableAndReleasesTheClaim) {
  redis_.Inject("commit_rating", Fault::kTimeout);
  RatingResult result = Submit(MeltedRating("k-1"));
  EXPECT_EQ(result.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(reported_.committed, 0u);
  ExpectReleased("k-1");
}

TEST_F(RatingFlowTest, TheClientLimitFailingReleasesTheClaim) {
  redis_.Inject("rate_limit", Fault::kTimeout);
  RatingResult result = Submit(MeltedRating("k-1"));
  EXPECT_EQ(result.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(redis_.count("commit_rating"), 0);
  ExpectReleased("k-1");
}

TEST_F(RatingFlowTest, AReleaseThatFailsStillAnswersTheOriginalError) {
  redis_.Answer("commit_rating",
                Tagged({Reply("CEILING"), Reply("0"), Reply("3000")}));
  redis_.Inject("release_rating", Fault::kTimeout);
  RatingResult result = Submit(MeltedRating("k-1"));
  EXPECT_EQ(result.status.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(ErrorReason(result.status), "CONCURRENT_UPDATE");
  EXPECT_EQ(redis_.count("release_rating"), 1);
}

TEST_F(RatingFlowTest, ARedisThatIsDownFailsUnavailableAtOnce) {
  redis_.set_ready(false);
  RatingResult result = Submit(MeltedRating("k-1"));
  EXPECT_EQ(result.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(redis_.count("commit_rating"), 0);
  EXPECT_EQ(reported_.committed, 0u);
}

TEST_F(RatingFlowTest, AMalformedAdmitReplyIsInternalNamingTheScript) {
  redis_.Answer("admit_rating", Answer("SURPRISE"));
  RatingResult result = Submit(MeltedRating("k-1"));
  EXPECT_EQ(result.status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(result.status.message(), HasSubstr("admit_rating"));
  EXPECT_EQ(redis_.count("commit_rating"), 0);
}

TEST_F(RatingFlowTest, AStoredOrderThatDoesNotParseIsDataLossAndReleases) {
  RedisReply fresh = Fresh();
  fresh.elements[1] = Reply("\xff not an order");
  redis_.Answer("admit_rating", fresh);
  RatingResult result = Submit(MeltedRating("k-1"));
  EXPECT_EQ(result.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(redis_.count("commit_rating"), 0);
  ExpectReleased("k-1");
}

TEST_F(RatingFlowTest, AMalformedCommitReplyIsInternalAndReleases) {
  redis_.Answer("commit_rating", Reply(int64_t{1}));
  RatingResult result = Submit(MeltedRating("k-1"));
  EXPECT_EQ(result.status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(result.status.message(), HasSubstr("commit_rating"));
  ExpectReleased("k-1");
}

TEST_F(RatingFlowTest, AMalformedClientLimitReplyIsInternalAndReleases) {
  redis_.Answer("rate_limit", Reply({Reply(int64_t{1})}));
  RatingResult result = Submit(MeltedRating("k-1"));
  EXPECT_EQ(result.status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(result.status.message(), HasSubstr("rate_limit"));
  ExpectReleased("k-1");
}

}  // namespace
}  // namespace makegood::rating
