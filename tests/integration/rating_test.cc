// SubmitRating, GetRefund and ListRefunds through gRPC against real Redis:
// exactly-once under concurrency and restarts, the order ceiling, rate limits
// across processes, and refusals that change nothing.
#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "services/rating/admit_script.h"
#include "services/rating/commit_script.h"
#include "services/rating/lua/scripts.h"
#include "services/rating/rate_limit_script.h"
#include "services/rating/rating_ids.h"
#include "services/store/key_schema.h"
#include "services/store/lua/scripts.h"
#include "tests/testing/app_harness.h"
#include "tests/testing/grpc_status.h"

namespace makegood {
namespace {

using ::makegood::testing::AppHarness;
using ::makegood::testing::ConnectStubs;
using ::makegood::testing::ErrorReason;
using ::makegood::testing::Stubs;
using ::testing::HasSubstr;
using ::testing::Not;

// The tests' standard rating: the melted frozen line of the sample order.
v1::SubmitRatingRequest Rating(const std::string& key,
                               const std::string& member = "m-1",
                               const std::string& order = "o-1",
                               int satisfaction = 50) {
  return testing::MeltedRating(key, member, order, satisfaction);
}

struct Call {
  grpc::Status status;
  v1::SubmitRatingResponse response;
  std::multimap<std::string, std::string> trailers;
};

Call Submit(Stubs& stubs, const v1::SubmitRatingRequest& request,
            const std::string& client = "") {
  Call call;
  grpc::ClientContext context;
  if (!client.empty()) context.AddMetadata("x-client-id", client);
  call.status = stubs.ratings->SubmitRating(&context, request, &call.response);
  for (const auto& [k, v] : context.GetServerTrailingMetadata()) {
    call.trailers.emplace(std::string(k.data(), k.size()),
                          std::string(v.data(), v.size()));
  }
  return call;
}

// Submits, retrying with the same key while the answer says to (ABORTED: in
// flight; UNAVAILABLE: Redis unreachable), as a well-behaved client would.
Call SubmitUntilSettled(Stubs& stubs, const v1::SubmitRatingRequest& request,
                        const std::string& client = "") {
  Call call;
  for (int attempt = 0; attempt < 200; ++attempt) {
    call = Submit(stubs, request, client);
    if (call.status.error_code() != grpc::StatusCode::ABORTED &&
        call.status.error_code() != grpc::StatusCode::UNAVAILABLE) {
      return call;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return call;
}

int64_t Integer(const absl::StatusOr<redis::RedisReply>& reply) {
  int64_t v = 0;
  if (!reply.ok()) return -1;
  if (reply->type == redis::RedisReply::Type::kInteger) return reply->integer;
  return absl::SimpleAtoi(reply->str, &v) ? v : 0;
}

class RatingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto h = AppHarness::Create();
    ASSERT_TRUE(h.ok()) << h.status();
    h_ = *std::move(h);
  }

  void Start() {
    ASSERT_TRUE(h_->StartApp().ok());
    ASSERT_TRUE(h_->UpsertMember("m-1").ok());
    ASSERT_TRUE(h_->RecordOrder("m-1", "o-1").ok());
  }

  std::string OrderKeyOf(const std::string& member, const std::string& order) {
    return store::KeySchema::Create(h_->config().partitions)
        ->OrderKey(member, order);
  }

  // Refund records (not their events streams).
  int64_t RefundRecords() {
    auto keys = h_->Redis({"KEYS", "mg:*:refund:*"});
    if (!keys.ok()) return -1;
    int64_t n = 0;
    for (const auto& key : keys->elements) {
      if (store::KeySchema::RefundIdOfKey(key.str).has_value()) ++n;
    }
    return n;
  }

  int64_t CommandCalls(const std::string& command) {
    auto info = h_->Redis({"INFO", "commandstats"});
    if (!info.ok()) return -1;
    std::string needle = "cmdstat_" + command + ":calls=";
    size_t at = info->str.find(needle);
    if (at == std::string::npos) return 0;
    int64_t calls = 0;
    size_t end = info->str.find(',', at);
    (void)absl::SimpleAtoi(
        info->str.substr(at + needle.size(), end - at - needle.size()), &calls);
    return calls;
  }

  std::unique_ptr<AppHarness> h_;
};

TEST_F(RatingTest, TrustedMemberIsRefundedAtOnceWithTheRuleNamed) {
  Start();
  Call call = Submit(h_->stubs(), Rating("k-1"));
  ASSERT_TRUE(call.status.ok()) << call.status.error_message();
  const v1::Decision& d = call.response.decision();
  EXPECT_EQ(d.outcome(), v1::OUTCOME_REFUND);
  EXPECT_EQ(d.refund().amount_minor(), 1200);  // The melted line in full.
  EXPECT_EQ(d.refund().state(), v1::REFUND_STATE_ACCEPTED);
  EXPECT_THAT(d.explanation(), HasSubstr("melted"));
  EXPECT_THAT(d.policy_version(), HasSubstr("default@"));
  EXPECT_FALSE(call.response.replayed());
  EXPECT_EQ(call.trailers.count("ratelimit-limit"), 1u);

  // Committed atomically: refund record, order total, ledger, outbox.
  const std::string order_key = OrderKeyOf("m-1", "o-1");
  EXPECT_EQ(Integer(h_->Redis({"HGET", order_key, "refunded_minor"})), 1200);
  EXPECT_EQ(RefundRecords(), 1);
  auto keys = *store::KeySchema::Create(h_->config().partitions);
  const int partition = keys.PartitionOf("m-1");
  EXPECT_EQ(Integer(h_->Redis({"XLEN", keys.OutboxKey(partition)})), 1);
  EXPECT_EQ(Integer(h_->Redis({"XLEN", keys.LedgerKey(partition)})), 1);
  auto balances = h_->Redis({"HGETALL", keys.LedgerBalancesKey(partition)});
  ASSERT_TRUE(balances.ok());
  int64_t sum = 0;
  for (size_t i = 1; i < balances->elements.size(); i += 2) {
    int64_t v = 0;
    ASSERT_TRUE(absl::SimpleAtoi(balances->elements[i].str, &v));
    sum += v;
  }
  EXPECT_EQ(sum, 0);  // Double entry.

  grpc::ClientContext context;
  v1::GetRefundRequest get;
  get.set_refund_id(d.refund().refund_id());
  v1::GetRefundResponse got;
  ASSERT_TRUE(h_->stubs().refunds->GetRefund(&context, get, &got).ok());
  EXPECT_EQ(got.refund().amount_minor(), 1200);
}

TEST_F(RatingTest, ReplayReturnsTheStoredAnswerInOneRoundTrip) {
  // Health checks are scripts too: none may fall into the counted window
  // (the harness checks every 20 ms; under load one did).
  h_->config().health_interval = absl::Hours(1);
  Start();
  // The client's first rating leases a batch of its limit's cells (a third
  // script beside the admit); the ratings after it use them.
  ASSERT_TRUE(h_->RecordOrder("m-1", "o-2").ok());
  int64_t evalsha_before = CommandCalls("evalsha");
  ASSERT_TRUE(Submit(h_->stubs(), Rating("k-0", "m-1", "o-2")).status.ok());
  EXPECT_EQ(CommandCalls("evalsha") - evalsha_before, 3);
  const int64_t refunds_before = RefundRecords();
  evalsha_before = CommandCalls("evalsha");
  Call first = Submit(h_->stubs(), Rating("k-1"));
  ASSERT_TRUE(first.status.ok());
  int64_t fresh_scripts = CommandCalls("evalsha") - evalsha_before;
  Call replay = Submit(h_->stubs(), Rating("k-1"));
  ASSERT_TRUE(replay.status.ok());
  int64_t replay_scripts =
      CommandCalls("evalsha") - evalsha_before - fresh_scripts;
  EXPECT_TRUE(replay.response.replayed());
  v1::SubmitRatingResponse expected = first.response;
  expected.set_replayed(true);
  EXPECT_EQ(replay.response.SerializeAsString(), expected.SerializeAsString());
  // Fresh: admit, then commit. Replay: admit.
  EXPECT_EQ(fresh_scripts, 2);
  EXPECT_EQ(replay_scripts, 1);
  EXPECT_EQ(RefundRecords(), refunds_before + 1);
}

TEST_F(RatingTest, SameKeyWithAnotherPayloadIsRefused) {
  Start();
  ASSERT_TRUE(Submit(h_->stubs(), Rating("k-1")).status.ok());
  auto before = h_->Snapshot();
  Call reused = Submit(h_->stubs(), Rating("k-1", "m-1", "o-1", 10));
  EXPECT_EQ(reused.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ErrorReason(reused.status), "IDEMPOTENCY_KEY_REUSED");
  EXPECT_EQ(h_->Snapshot(), before);
}

// Found by reading the code (issue 10): once the idempotency record had
// expired (inside the 7-day rating window), a retry of the key was decided
// again and rewrote the paid refund under the same id.
TEST_F(RatingTest, ALateRetryAfterTheKeyExpiredReplaysTheOriginalDecision) {
  h_->config().rating.idempotency_ttl = absl::Seconds(1);
  Start();
  Call first = Submit(h_->stubs(), Rating("k-late"));
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  ASSERT_TRUE(first.response.decision().has_refund());
  auto keys = *store::KeySchema::Create(h_->config().partitions);
  rating::RatingIds ids = rating::DeriveRatingIds(
      "anonymous", "SubmitRating", "m-1", "k-late", keys.PartitionOf("m-1"));
  const std::string idem = keys.IdempotencyKey(ids.partition, ids.scope_hash);
  for (int i = 0; i < 300 && Integer(h_->Redis({"EXISTS", idem})) != 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(Integer(h_->Redis({"EXISTS", idem})), 0) << "the record expired";
  h_->clock().Advance(absl::Hours(100));  // Still inside the rating window.

  auto before = h_->Snapshot();
  Call late = Submit(h_->stubs(), Rating("k-late"));
  ASSERT_TRUE(late.status.ok()) << late.status.error_message();
  EXPECT_TRUE(late.response.replayed());
  v1::SubmitRatingResponse expected = first.response;
  expected.set_replayed(true);
  EXPECT_EQ(late.response.SerializeAsString(), expected.SerializeAsString());
  EXPECT_EQ(h_->Snapshot(), before) << "the late retry changed something";

  // Another payload on the expired key is still that key's misuse.
  Call reused = Submit(h_->stubs(), Rating("k-late", "m-1", "o-1", 10));
  EXPECT_EQ(ErrorReason(reused.status), "IDEMPOTENCY_KEY_REUSED");
  EXPECT_EQ(h_->Snapshot(), before);
}

// The commit script itself never overwrites a committed rating or refund,
// and never answers with a stored response (it may be another payload's):
// given a claim on a scope that is already committed, it writes nothing.
TEST_F(RatingTest, ACommitNeverOverwritesACommittedRatingOrAnswersForIt) {
  Start();
  Call first = Submit(h_->stubs(), Rating("k-1"));
  ASSERT_TRUE(first.status.ok());
  auto keys = *store::KeySchema::Create(h_->config().partitions);
  rating::RatingIds ids = rating::DeriveRatingIds(
      "anonymous", "SubmitRating", "m-1", "k-1", keys.PartitionOf("m-1"));
  const std::string idem = keys.IdempotencyKey(ids.partition, ids.scope_hash);
  auto commit =
      [&](const std::string& token) -> absl::StatusOr<rating::CommitAnswer> {
    rating::CommitRequest request;
    request.ids = ids;
    request.member_id = "m-1";
    request.order_id = "o-1";
    request.token = token;
    rating::ScriptCall call = rating::BuildCommitCall(keys, std::move(request));
    std::vector<std::string> argv = {"EVAL",
                                     rating::scripts::kCommitRating.source,
                                     absl::StrCat(call.keys.size())};
    argv.insert(argv.end(), call.keys.begin(), call.keys.end());
    argv.insert(argv.end(), call.args.begin(), call.args.end());
    auto reply = h_->Redis(std::move(argv));
    if (!reply.ok()) return reply.status();
    auto parsed = rating::ParseCommitReply(*reply);
    if (!parsed.ok()) return parsed.status();
    return parsed->answer;
  };
  // A late commit of a lapsed claim, while the key is answered.
  auto before = h_->Snapshot();
  auto reply = commit("a-lapsed-claim");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*reply, rating::CommitAnswer::kDone);
  EXPECT_EQ(h_->Snapshot(), before);
  // The key's record expired and a claim was made by hand with a valid
  // token: the committed rating still wins.
  ASSERT_TRUE(h_->Redis({"DEL", idem}).ok());
  ASSERT_TRUE(
      h_->Redis({"HSET", idem, "state", "inflight", "token", "t-1"}).ok());
  before = h_->Snapshot();
  reply = commit("t-1");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*reply, rating::CommitAnswer::kDone);
  EXPECT_EQ(h_->Snapshot(), before);
}

TEST_F(RatingTest, FiftyConcurrentIdenticalRequestsPayOnceAndAgree) {
  Start();
  constexpr int kClients = 50;
  std::vector<Call> calls(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      calls[i] = SubmitUntilSettled(h_->stubs(), Rating("same-key"));
    });
  }
  for (auto& t : threads) t.join();
  int fresh = 0;
  for (const Call& c : calls) {
    ASSERT_TRUE(c.status.ok()) << c.status.error_message();
    if (!c.response.replayed()) ++fresh;
    v1::SubmitRatingResponse a = c.response, b = calls[0].response;
    a.set_replayed(false);
    b.set_replayed(false);
    EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString());
  }
  EXPECT_EQ(fresh, 1);
  EXPECT_EQ(RefundRecords(), 1);
  EXPECT_EQ(
      Integer(h_->Redis({"HGET", OrderKeyOf("m-1", "o-1"), "refunded_minor"})),
      1200);
}

TEST_F(RatingTest, FiftyConcurrentRatingsOfOneOrderNeverExceedWhatWasPaid) {
  h_->config().rating.limits =
      *rating::RateLimits::Parse("SubmitRating.member=off");
  Start();
  constexpr int kClients = 50;
  std::vector<Call> calls(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      // Different keys, different satisfactions, all on the same order.
      calls[i] = SubmitUntilSettled(
          h_->stubs(), Rating(absl::StrCat("key-", i), "m-1", "o-1", i * 2));
    });
  }
  for (auto& t : threads) t.join();
  int64_t paid_in_responses = 0;
  for (const Call& c : calls) {
    ASSERT_TRUE(c.status.ok()) << c.status.error_message();
    paid_in_responses += c.response.decision().refund().amount_minor();
  }
  int64_t refunded =
      Integer(h_->Redis({"HGET", OrderKeyOf("m-1", "o-1"), "refunded_minor"}));
  EXPECT_LE(refunded, 3000);
  EXPECT_EQ(refunded, paid_in_responses);
}

TEST_F(RatingTest, ASecondRatingOfTheOrderNeverGrantsTheCouponAgain) {
  Start();
  auto courier = [](const std::string& key, int satisfaction) {
    v1::SubmitRatingRequest r = Rating(key, "m-1", "o-1", satisfaction);
    r.clear_line_ratings();
    r.add_reasons(v1::REASON_COURIER_BEHAVIOUR);
    return r;
  };
  Call first = Submit(h_->stubs(), courier("c-1", 30));
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  ASSERT_EQ(first.response.decision().outcome(), v1::OUTCOME_COUPON);
  const int64_t coupon = first.response.decision().refund().amount_minor();
  EXPECT_GT(coupon, 0);

  Call second = Submit(h_->stubs(), courier("c-2", 20));
  ASSERT_TRUE(second.status.ok()) << second.status.error_message();
  EXPECT_NE(second.response.decision().outcome(), v1::OUTCOME_COUPON);
  EXPECT_FALSE(second.response.decision().has_refund());
  EXPECT_THAT(second.response.decision().reason_codes(),
              ::testing::Contains("earlier_coupon_deducted"));
  EXPECT_EQ(RefundRecords(), 1);
  EXPECT_EQ(
      Integer(h_->Redis({"HGET", OrderKeyOf("m-1", "o-1"), "coupon_minor"})),
      coupon);
  // Coupons are not money: the order's refunded total is untouched.
  EXPECT_EQ(
      Integer(h_->Redis({"HGET", OrderKeyOf("m-1", "o-1"), "refunded_minor"})),
      0);
}

TEST_F(RatingTest, ReplayAfterAServerRestartGivesTheSameAnswer) {
  Start();
  Call first = Submit(h_->stubs(), Rating("k-1"));
  ASSERT_TRUE(first.status.ok());
  h_->StopApp();
  ASSERT_TRUE(h_->StartApp().ok());
  Call replay = Submit(h_->stubs(), Rating("k-1"));
  ASSERT_TRUE(replay.status.ok());
  EXPECT_TRUE(replay.response.replayed());
  EXPECT_EQ(replay.response.rating_id(), first.response.rating_id());
  EXPECT_EQ(replay.response.decision().SerializeAsString(),
            first.response.decision().SerializeAsString());
  EXPECT_EQ(RefundRecords(), 1);
}

TEST_F(RatingTest, ThreeServersShareLimitsAndIdempotency) {
  h_->config().rating.limits = *rating::RateLimits::Parse(
      "SubmitRating.member=1/h:burst=5,SubmitRating.client=off");
  Start();
  std::vector<std::unique_ptr<server::App>> others;
  std::vector<Stubs> stubs;
  for (int i = 0; i < 2; ++i) {
    auto app = server::App::Start(h_->config(), h_->clock());
    ASSERT_TRUE(app.ok());
    stubs.push_back(ConnectStubs((*app)->port()));
    others.push_back(*std::move(app));
  }
  std::vector<Stubs*> servers = {&h_->stubs(), &stubs[0], &stubs[1]};
  for (auto* s : servers) ASSERT_TRUE(testing::WaitServing(*s->health));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(h_->RecordOrder("m-1", absl::StrCat("o-", 100 + i)).ok());
  }

  // One key sent to all three at once: one refund.
  std::vector<Call> same(3);
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      same[i] =
          SubmitUntilSettled(*servers[i], Rating("shared", "m-1", "o-100"));
    });
  }
  for (auto& t : threads) t.join();
  for (const Call& c : same) ASSERT_TRUE(c.status.ok());
  EXPECT_EQ(RefundRecords(), 1);

  // Burst 5 across all three: the shared call used 1, 4 more pass.
  int ok = 0, limited = 0;
  for (int i = 0; i < 9; ++i) {
    Call c = Submit(*servers[i % 3],
                    Rating(absl::StrCat("burst-", i), "m-1", "o-101", 30));
    if (c.status.ok()) {
      ++ok;
    } else {
      ASSERT_EQ(c.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
          << c.status.error_message();
      EXPECT_EQ(ErrorReason(c.status), "RATE_LIMITED");
      EXPECT_EQ(c.trailers.count("retry-after"), 1u);
      EXPECT_EQ(c.trailers.find("ratelimit-remaining")->second, "0");
      EXPECT_EQ(c.trailers.find("ratelimit-scope")->second, "member");
      ++limited;
    }
  }
  EXPECT_EQ(ok, 4);
  EXPECT_EQ(limited, 5);
}

TEST_F(RatingTest, ClientLimitRefusesAndReleasesTheKey) {
  h_->config().rating.limits = *rating::RateLimits::Parse(
      "SubmitRating.member=off,SubmitRating.client=1/h:burst=1");
  Start();
  ASSERT_TRUE(Submit(h_->stubs(), Rating("a"), "app-1").status.ok());
  Call limited = Submit(h_->stubs(), Rating("b"), "app-1");
  EXPECT_EQ(limited.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(limited.trailers.find("ratelimit-scope")->second, "client");
  // Another client has its own budget, and the refused key was not kept.
  Call other = Submit(h_->stubs(), Rating("b"), "app-2");
  EXPECT_TRUE(other.status.ok()) << other.status.error_message();
  EXPECT_FALSE(other.response.replayed());
}

// rate_limit.lua takes a server's lease of several cells at once, and only
// what fits: a burst of 10 (an hour per cell) leased 4 at a time gives 4, 4,
// 2, then nothing, and the client's TAT stands where ten single requests
// would have left it.
TEST_F(RatingTest, TheClientLimitLeasesOnlyTheCellsThatFit) {
  Start();
  auto keys = *store::KeySchema::Create(h_->config().partitions);
  auto lease = [&](int64_t cells) {
    rating::ScriptCall call = rating::BuildRateLimitCall(
        keys, rating::RateLimitRequest{.client_id = "app-lease",
                                       .interval_ms = 3'600'000,
                                       .burst = 10,
                                       .cells = cells});
    std::vector<std::string> argv = {"EVAL", rating::scripts::kRateLimit.source,
                                     absl::StrCat(call.keys.size())};
    argv.insert(argv.end(), call.keys.begin(), call.keys.end());
    argv.insert(argv.end(), call.args.begin(), call.args.end());
    auto reply = h_->Redis(argv);
    EXPECT_TRUE(reply.ok()) << reply.status();
    auto parsed = rating::ParseRateLimitReply(*reply);
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    return *parsed;
  };
  rating::RateLimitReply first = lease(4);
  EXPECT_TRUE(first.allowed);
  EXPECT_EQ(first.granted, 4);
  EXPECT_EQ(first.remaining, 6);
  EXPECT_EQ(lease(4).granted, 4);
  rating::RateLimitReply third = lease(4);
  EXPECT_TRUE(third.allowed);
  EXPECT_EQ(third.granted, 2);
  EXPECT_EQ(third.remaining, 0);
  rating::RateLimitReply refused = lease(4);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.granted, 0);
  EXPECT_GT(refused.retry_after_ms, 3'500'000);
  // Ten cells of an hour each, less the burst's nine: the TAT is ten hours
  // ahead (within the test's own run time).
  auto pttl = h_->Redis({"PTTL", keys.ClientLimiterKey("app-lease")});
  ASSERT_TRUE(pttl.ok());
  EXPECT_GT(pttl->integer, 10 * 3'600'000 - 60'000);
  EXPECT_LE(pttl->integer, 10 * 3'600'000 + 1);
}

TEST_F(RatingTest, ShadowLimitCountsButNeverRefuses) {
  h_->config().rating.limits = *rating::RateLimits::Parse(
      "SubmitRating.member=1/h:burst=1:shadow,SubmitRating.client=off");
  Start();
  for (int i = 0; i < 3; ++i) {
    Call c =
        Submit(h_->stubs(), Rating(absl::StrCat("s-", i), "m-1", "o-1", 90));
    EXPECT_TRUE(c.status.ok()) << c.status.error_message();
  }
  // Burst 1: the first passes, the other two would have been refused.
  const std::string scrape = h_->app().metrics().Scrape();
  EXPECT_THAT(
      scrape,
      HasSubstr(
          "makegood_rate_limit_shadow_rejections_total{method=\"/"
          "makegood.v1.RatingService/SubmitRating\",scope=\"member\"} 2\n"));
  EXPECT_THAT(scrape, Not(HasSubstr("makegood_rate_limit_rejections_total{")));
}

TEST_F(RatingTest, ShadowPolicyDisagreesButNeverMovesMoney) {
  // The candidate excludes frozen goods: it would refuse the melted ice cream.
  std::ifstream active(std::string(MAKEGOOD_SOURCE_DIR) +
                       "/config/policy/default.textproto");
  std::stringstream text;
  text << active.rdbuf();
  std::string strict = text.str();
  strict.replace(strict.find("name: \"default\""),
                 std::string("name: \"default\"").size(), "name: \"strict\"");
  strict += "\nexcluded_categories: \"frozen\"\n";
  std::string path = ::testing::TempDir() + "/strict_policy.textproto";
  std::ofstream(path) << strict;
  h_->config().shadow_policy_path = path;
  Start();

  Call melted = Submit(h_->stubs(), Rating("k-melted"));
  ASSERT_TRUE(melted.status.ok()) << melted.status.error_message();
  EXPECT_EQ(melted.response.decision().refund().amount_minor(), 1200);
  EXPECT_THAT(melted.response.decision().policy_version(),
              HasSubstr("default@"));
  ASSERT_TRUE(h_->RecordOrder("m-1", "o-happy").ok());
  v1::SubmitRatingRequest happy = Rating("k-happy", "m-1", "o-happy", 100);
  happy.clear_line_ratings();
  ASSERT_TRUE(Submit(h_->stubs(), happy).status.ok());

  grpc::ClientContext get_context;
  v1::GetPolicyResponse policies;
  ASSERT_TRUE(
      h_->stubs().policies->GetPolicy(&get_context, {}, &policies).ok());
  EXPECT_THAT(policies.version(), HasSubstr("default@"));
  EXPECT_THAT(policies.shadow_version(), HasSubstr("strict@"));

  const std::string scrape = h_->app().metrics().Scrape();
  EXPECT_THAT(scrape,
              HasSubstr("\nmakegood_shadow_policy_evaluations_total 2\n"));
  EXPECT_THAT(scrape,
              HasSubstr("\nmakegood_shadow_policy_disagreements_total 1\n"));
  // Only the active decision was committed.
  EXPECT_EQ(RefundRecords(), 1);
  EXPECT_EQ(
      Integer(h_->Redis({"HGET", OrderKeyOf("m-1", "o-1"), "refunded_minor"})),
      1200);
}

TEST_F(RatingTest, BadRequestsGetTheirCodeAndChangeNothing) {
  Start();
  ASSERT_TRUE(h_->UpsertMember("m-2").ok());
  ASSERT_TRUE(h_->RecordOrder("m-2", "o-2").ok());
  auto before = h_->Snapshot();
  struct Case {
    std::string name;
    v1::SubmitRatingRequest request;
    grpc::StatusCode code;
  };
  std::vector<Case> cases;
  auto add = [&](std::string name, grpc::StatusCode code, auto mutate) {
    v1::SubmitRatingRequest r = Rating("bad-" + name);
    mutate(r);
    cases.push_back({name, r, code});
  };
  using C = grpc::StatusCode;
  add("no-key", C::INVALID_ARGUMENT,
      [](auto& r) { r.clear_idempotency_key(); });
  add("long-key", C::INVALID_ARGUMENT,
      [](auto& r) { r.set_idempotency_key(std::string(256, 'k')); });
  add("control-char-key", C::INVALID_ARGUMENT,
      [](auto& r) { r.set_idempotency_key("a\tb"); });
  add("no-satisfaction", C::INVALID_ARGUMENT,
      [](auto& r) { r.clear_satisfaction_percent(); });
  add("satisfaction-101", C::INVALID_ARGUMENT,
      [](auto& r) { r.set_satisfaction_percent(101); });
  add("negative-satisfaction", C::INVALID_ARGUMENT,
      [](auto& r) { r.set_satisfaction_percent(-1); });
  add("unspecified-reason", C::INVALID_ARGUMENT,
      [](auto& r) { r.add_reasons(v1::REASON_UNSPECIFIED); });
  add("unknown-reason", C::INVALID_ARGUMENT,
      [](auto& r) { r.add_reasons(static_cast<v1::Reason>(99)); });
  add("line-twice", C::INVALID_ARGUMENT,
      [](auto& r) { *r.add_line_ratings() = r.line_ratings(0); });
  add("unknown-line", C::INVALID_ARGUMENT,
      [](auto& r) { r.mutable_line_ratings(0)->set_line_id("l9"); });
  add("bad-member-id", C::INVALID_ARGUMENT,
      [](auto& r) { r.set_member_id("m 1"); });
  add("unknown-order", C::NOT_FOUND, [](auto& r) { r.set_order_id("o-404"); });
  add("other-members-order", C::PERMISSION_DENIED,
      [](auto& r) { r.set_order_id("o-2"); });
  add("unrecorded-member", C::PERMISSION_DENIED,
      [](auto& r) { r.set_member_id("m-404"); });
  for (const Case& c : cases) {
    Call call = Submit(h_->stubs(), c.request);
    EXPECT_EQ(call.status.error_code(), c.code)
        << c.name << ": " << call.status.error_message();
  }
  EXPECT_EQ(h_->Snapshot(), before);
}

TEST_F(RatingTest, RatingAfterTheWindowIsFailedPrecondition) {
  Start();
  h_->clock().Advance(absl::Hours(24 * 8));  // Default window: 7 days.
  auto before = h_->Snapshot();
  Call late = Submit(h_->stubs(), Rating("late"));
  EXPECT_EQ(late.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ErrorReason(late.status), "RATING_WINDOW_CLOSED");
  EXPECT_EQ(h_->Snapshot(), before);
}

TEST_F(RatingTest, HungRedisFailsUnavailableAndTheRetryPaysOnce) {
  h_->config().redis.command_timeout = absl::Milliseconds(300);
  Start();
  h_->redis().Pause();
  Call hung = Submit(h_->stubs(), Rating("k-1"));
  h_->redis().Resume();
  EXPECT_EQ(hung.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  Call retry = SubmitUntilSettled(h_->stubs(), Rating("k-1"));
  ASSERT_TRUE(retry.status.ok()) << retry.status.error_message();
  Call again = Submit(h_->stubs(), Rating("k-1"));
  EXPECT_TRUE(again.response.replayed());
  EXPECT_EQ(RefundRecords(), 1);
}

TEST_F(RatingTest, AClaimLeftByACrashedServerLapsesThenTheRetryPaysOnce) {
  h_->config().rating.claim_lease = absl::Seconds(1);
  Start();
  // A server claimed the key (round trip 1) and died before committing: run
  // the real admit script with that server's token.
  v1::SubmitRatingRequest request = Rating("k-crash");
  auto keys = *store::KeySchema::Create(h_->config().partitions);
  rating::RatingIds ids = rating::DeriveRatingIds(
      "anonymous", "SubmitRating", "m-1", "k-crash", keys.PartitionOf("m-1"));
  rating::AdmitRequest admit;
  admit.ids = ids;
  admit.member_id = "m-1";
  admit.order_id = "o-1";
  admit.fingerprint = rating::RequestFingerprint(request);
  admit.token = "token-of-the-dead-server";
  admit.claim_lease = absl::Seconds(1);
  admit.now = h_->clock().Now();
  admit.limiter_burst = 1;
  admit.rating_window = absl::Hours(7 * 24);
  admit.rated_line_ids = {"l1"};
  rating::ScriptCall call = rating::BuildAdmitCall(keys, admit);
  std::vector<std::string> argv = {"EVAL", rating::scripts::kAdmitRating.source,
                                   absl::StrCat(call.keys.size())};
  argv.insert(argv.end(), call.keys.begin(), call.keys.end());
  argv.insert(argv.end(), call.args.begin(), call.args.end());
  auto claimed = h_->Redis(argv);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  auto parsed = rating::ParseAdmitReply(*claimed);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->answer, rating::AdmitAnswer::kFresh);

  Call blocked = Submit(h_->stubs(), request);
  EXPECT_EQ(blocked.status.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(ErrorReason(blocked.status), "IDEMPOTENCY_KEY_IN_FLIGHT");
  EXPECT_EQ(RefundRecords(), 0);

  Call after = SubmitUntilSettled(h_->stubs(), request);  // Lease lapses.
  ASSERT_TRUE(after.status.ok()) << after.status.error_message();
  EXPECT_FALSE(after.response.replayed());
  EXPECT_EQ(RefundRecords(), 1);
  EXPECT_EQ(
      Integer(h_->Redis({"HGET", OrderKeyOf("m-1", "o-1"), "refunded_minor"})),
      1200);
  EXPECT_TRUE(Submit(h_->stubs(), request).response.replayed());
}

TEST_F(RatingTest, ListRefundsPagesNewestFirstWithBoundTokens) {
  h_->config().rating.limits = *rating::RateLimits::Parse(
      "SubmitRating.member=off,SubmitRating.client=off");
  Start();
  constexpr int kOrders = 7;
  for (int i = 0; i < kOrders; ++i) {
    std::string order = absl::StrCat("page-", i);
    ASSERT_TRUE(h_->RecordOrder("m-1", order).ok());
    h_->clock().Advance(absl::Seconds(1));
    ASSERT_TRUE(Submit(h_->stubs(), Rating(absl::StrCat("p", i), "m-1", order))
                    .status.ok());
  }
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    grpc::ClientContext context;
    v1::ListRefundsRequest request;
    request.set_member_id("m-1");
    request.set_page_size(3);
    request.set_page_token(token);
    v1::ListRefundsResponse response;
    ASSERT_TRUE(
        h_->stubs().refunds->ListRefunds(&context, request, &response).ok());
    for (const auto& r : response.refunds()) seen.push_back(r.order_id());
    token = response.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  ASSERT_EQ(seen.size(), static_cast<size_t>(kOrders));
  for (int i = 0; i < kOrders; ++i) {
    EXPECT_EQ(seen[i], absl::StrCat("page-", kOrders - 1 - i));
  }
  EXPECT_EQ(pages, 3);

  // A token only works for the listing it came from.
  grpc::ClientContext first_context;
  v1::ListRefundsRequest first;
  first.set_member_id("m-1");
  first.set_page_size(1);
  v1::ListRefundsResponse first_page;
  ASSERT_TRUE(h_->stubs()
                  .refunds->ListRefunds(&first_context, first, &first_page)
                  .ok());
  grpc::ClientContext other_context;
  v1::ListRefundsRequest other;
  other.set_order_id("page-0");
  other.set_page_token(first_page.next_page_token());
  v1::ListRefundsResponse ignored;
  EXPECT_EQ(h_->stubs()
                .refunds->ListRefunds(&other_context, other, &ignored)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  grpc::ClientContext by_order_context;
  v1::ListRefundsRequest by_order;
  by_order.set_order_id("page-3");
  v1::ListRefundsResponse order_page;
  ASSERT_TRUE(
      h_->stubs()
          .refunds->ListRefunds(&by_order_context, by_order, &order_page)
          .ok());
  ASSERT_EQ(order_page.refunds_size(), 1);
  EXPECT_EQ(order_page.refunds(0).order_id(), "page-3");
}

TEST_F(RatingTest, GetRefundRefusesMalformedAndUnknownIds) {
  Start();
  for (const char* bad : {"", "rf_x_abc", "rf_99999_0123456789abcdef01234567",
                          "rt_1_0123456789abcdef01234567"}) {
    grpc::ClientContext context;
    v1::GetRefundRequest request;
    request.set_refund_id(bad);
    v1::GetRefundResponse response;
    EXPECT_EQ(h_->stubs()
                  .refunds->GetRefund(&context, request, &response)
                  .error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << bad;
  }
  grpc::ClientContext context;
  v1::GetRefundRequest request;
  request.set_refund_id("rf_1_0123456789abcdef01234567");
  v1::GetRefundResponse response;
  EXPECT_EQ(
      h_->stubs().refunds->GetRefund(&context, request, &response).error_code(),
      grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace makegood
