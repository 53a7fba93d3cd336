// The stored side of serving several currencies, through gRPC against a real
// redis-server: RecordDelivery refuses a currency the policy does not serve
// and stores nothing; the open-orders index follows record and rating; a
// policy reload that would drop a currency with open orders is refused;
// member money, instant budgets and goodwill budgets are kept per currency
// (fields stored before currencies are read for every currency); and
// `makegood_admin check` checks refunds against their order's currency and
// reports orders in currencies a policy does not serve.
//
// Tests that need a policy serving two currencies build it from
// DefaultPolicyConfig() and skip while it serves fewer.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/policy/markets.h"
#include "services/policy/policy_config.h"
#include "services/policy_file/policy_document.h"
#include "services/policy_proto/policy_convert.h"
#include "services/policy_reload/open_orders.h"
#include "services/redis/hiredis_client.h"
#include "services/store/key_schema.h"
#include "tests/testing/app_harness.h"
#include "tests/testing/eventually.h"
#include "tests/testing/grpc_status.h"
#include "tests/testing/subprocess.h"

namespace makegood {
namespace {

using ::makegood::testing::AppHarness;
using ::makegood::testing::ErrorReason;
using ::testing::HasSubstr;

constexpr char kAdmin[] = MAKEGOOD_ADMIN;

std::map<std::string, std::string> Fields(const redis::RedisReply& reply) {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    out[reply.elements[i].str] = reply.elements[i + 1].str;
  }
  return out;
}

// The default policy as a document.
std::string PolicyText(const policy::PolicyConfig& config) {
  std::string text;
  google::protobuf::TextFormat::PrintToString(
      policy_proto::FromPolicyConfig(config), &text);
  return text;
}

// A policy like the default that no longer serves `dropped` (see
// open_orders_test.cc), or nullopt.
std::optional<policy::PolicyConfig> Dropping(const std::string& dropped) {
  const policy::PolicyConfig base = policy::DefaultPolicyConfig();
  for (const std::string& other : policy::ServedCurrencies(base)) {
    if (other == dropped) continue;
    absl::StatusOr<policy::PolicyConfig> one = policy::ForCurrency(base, other);
    if (one.ok() && !policy::Serves(*one, dropped)) return *one;
  }
  policy::PolicyConfig other = base;
  other.currency = "GBP";
  other.name = "without";
  if (policy::Serves(other, dropped)) return std::nullopt;
  return other;
}

class CurrencyStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto harness = AppHarness::Create();
    ASSERT_TRUE(harness.ok()) << harness.status();
    h_ = *std::move(harness);
    policy_path_ = absl::StrCat(
        ::testing::TempDir(), "/currency_state_", ::getpid(), "_",
        ::testing::UnitTest::GetInstance()->current_test_info()->name(),
        ".textproto");
  }
  void TearDown() override { std::remove(policy_path_.c_str()); }

  // Starts the App on `config` (written to a file it watches every 20 ms).
  void StartOn(const policy::PolicyConfig& config) {
    WritePolicy(config);
    h_->config().policy_path = policy_path_;
    h_->config().policy_reload_interval = absl::Milliseconds(20);
    ASSERT_TRUE(h_->StartApp().ok());
  }
  void WritePolicy(const policy::PolicyConfig& config) {
    std::ofstream out(policy_path_ + ".tmp", std::ios::trunc);
    out << PolicyText(config);
    out.close();
    std::rename((policy_path_ + ".tmp").c_str(), policy_path_.c_str());
  }
  // The default policy, as the App runs it by default.
  void StartDefault() {
    ASSERT_TRUE(h_->StartApp().ok());
    auto loaded = policy_file::LoadPolicyFile(h_->config().policy_path,
                                              h_->clock().Now());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    config_ = loaded->engine->config();
  }

  grpc::Status Record(const v1::Order& order,
                      v1::RecordDeliveryResponse* response = nullptr) {
    v1::RecordDeliveryRequest request;
    *request.mutable_order() = order;
    grpc::ClientContext context;
    v1::RecordDeliveryResponse ignored;
    return h_->stubs().orders->RecordDelivery(
        &context, request, response != nullptr ? response : &ignored);
  }
  v1::Order Order(const std::string& member, const std::string& order_id,
                  const std::string& currency = "EUR") {
    v1::Order order = AppHarness::SampleOrder(
        member, order_id, h_->clock().Now() - absl::Hours(1));
    order.set_currency(currency);
    return order;
  }
  grpc::Status Rate(const std::string& key, const std::string& member,
                    const std::string& order_id, v1::SubmitRatingResponse* out,
                    int satisfaction = 50) {
    grpc::ClientContext context;
    return h_->stubs().ratings->SubmitRating(
        &context, testing::MeltedRating(key, member, order_id, satisfaction),
        out);
  }
  grpc::Status Trust(const std::string& member, v1::GetTrustResponse* out,
                     const std::string& currency = "") {
    v1::GetTrustRequest request;
    request.set_member_id(member);
    request.set_currency(currency);
    grpc::ClientContext context;
    return h_->stubs().members->GetTrust(&context, request, out);
  }
  // The version the App decides with.
  std::string ActiveVersion() {
    v1::GetPolicyResponse response;
    grpc::ClientContext context;
    grpc::Status status = h_->stubs().policies->GetPolicy(
        &context, v1::GetPolicyRequest(), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.version();
  }
  std::map<std::string, std::string> Stats(const std::string& member) {
    return Fields(*h_->Redis({"HGETALL", keys_.MemberStatsKey(member)}));
  }
  std::optional<std::string> OpenScore(const std::string& member,
                                       const std::string& currency,
                                       const std::string& order_id) {
    auto score =
        h_->Redis({"ZSCORE", keys_.OpenOrdersKey(keys_.PartitionOf(member)),
                   store::KeySchema::OpenOrderMember(currency, order_id)});
    if (!score.ok() || score->is_nil()) return std::nullopt;
    return score->str;
  }
  std::string Day() {
    return absl::StrCat(absl::ToUnixSeconds(h_->clock().Now()) / 86400);
  }
  // makegood_admin check's JSON report, and its exit code.
  std::pair<nlohmann::json, int> Check(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {
        kAdmin, "check",
        absl::StrCat("--redis=redis://", h_->config().redis.host, ":",
                     h_->config().redis.port, "/", h_->config().redis.db)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto result = testing::RunCommand(argv, absl::Seconds(30));
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return {nlohmann::json(), -1};
    for (absl::string_view line : absl::StrSplit(result->output, '\n')) {
      if (absl::StrContains(line, "\"command\":\"check\"")) {
        return {nlohmann::json::parse(line), result->exit_code};
      }
    }
    ADD_FAILURE() << "no report in " << result->output;
    return {nlohmann::json(), result->exit_code};
  }

  std::unique_ptr<AppHarness> h_;
  store::KeySchema keys_ = *store::KeySchema::Create(64);
  policy::PolicyConfig config_;
  std::string policy_path_;
};

// --- 1. RecordDelivery refuses an unserved currency ---

TEST_F(CurrencyStateTest,
       RecordDeliveryRefusesAnUnservedCurrencyAndStoresNothing) {
  StartDefault();
  ASSERT_TRUE(h_->UpsertMember("m-1").ok());
  const auto before = h_->Snapshot();
  grpc::Status refused = Record(Order("m-1", "o-gbp", "GBP"));
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(), HasSubstr("GBP"));
  for (const std::string& served : policy::ServedCurrencies(config_)) {
    EXPECT_THAT(refused.error_message(), HasSubstr(served));
  }
  EXPECT_EQ(ErrorReason(refused), "POLICY_PRECONDITION");
  EXPECT_EQ(h_->Snapshot(), before) << "no key was written";
  EXPECT_EQ(h_->Redis({"EXISTS", keys_.OrderOwnerKey("o-gbp")})->integer, 0);
}

TEST_F(CurrencyStateTest, AMalformedCurrencyIsInvalidArgumentFirst) {
  StartDefault();
  grpc::Status refused = Record(Order("m-1", "o-1", "gbp"));
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// --- 2. The open orders index and the reload guard ---

TEST_F(CurrencyStateTest, AnOrderIsOpenFromRecordUntilRated) {
  StartDefault();
  ASSERT_TRUE(h_->UpsertMember("m-1").ok());
  const v1::Order order = Order("m-1", "o-1");
  ASSERT_TRUE(Record(order).ok());
  auto market = policy::ForCurrency(config_, "EUR");
  ASSERT_TRUE(market.ok());
  const int64_t window_end =
      google::protobuf::util::TimeUtil::TimestampToMilliseconds(
          order.delivered_at()) +
      absl::ToInt64Milliseconds(market->rating_window);
  EXPECT_EQ(OpenScore("m-1", "EUR", "o-1"), absl::StrCat(window_end));

  // Counted over every partition as a reload counts them.
  auto client = redis::HiredisClient::Start(h_->config().redis);
  ASSERT_TRUE(client.ok()) << client.status();
  policy_reload::OpenOrders open(**client, keys_);
  ASSERT_TRUE(
      testing::Eventually([&] { return (*client)->ready_connections() > 0; }));
  auto counts = open.Count(h_->clock().Now());
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ((*counts)["EUR"], 1);
  // After its window the order no longer counts.
  auto later = open.Count(absl::FromUnixMillis(window_end + 1));
  ASSERT_TRUE(later.ok());
  EXPECT_FALSE(later->contains("EUR"));

  v1::SubmitRatingResponse rated;
  ASSERT_TRUE(Rate("k-1", "m-1", "o-1", &rated).ok());
  EXPECT_EQ(OpenScore("m-1", "EUR", "o-1"), std::nullopt) << "rated: closed";
  counts = open.Count(h_->clock().Now());
  ASSERT_TRUE(counts.ok());
  EXPECT_FALSE(counts->contains("EUR"));
  // Corrections of a rated order never open it again.
  v1::Order corrected = order;
  corrected.set_store_id("store-2");
  ASSERT_TRUE(Record(corrected).ok());
  EXPECT_EQ(OpenScore("m-1", "EUR", "o-1"), std::nullopt);
}

TEST_F(CurrencyStateTest, AnOrderRecordedAfterItsWindowIsNeverOpen) {
  StartDefault();
  ASSERT_TRUE(h_->UpsertMember("m-1").ok());
  auto market = policy::ForCurrency(config_, "EUR");
  ASSERT_TRUE(market.ok());
  v1::Order old = AppHarness::SampleOrder(
      "m-1", "o-old",
      h_->clock().Now() - market->rating_window - absl::Hours(1));
  ASSERT_TRUE(Record(old).ok());
  EXPECT_EQ(OpenScore("m-1", "EUR", "o-old"), std::nullopt);
}

TEST_F(CurrencyStateTest, AReloadDroppingACurrencyWithOpenOrdersIsRefused) {
  const policy::PolicyConfig base = policy::DefaultPolicyConfig();
  const std::string dropped = policy::ServedCurrencies(base).front();
  std::optional<policy::PolicyConfig> next = Dropping(dropped);
  if (!next.has_value()) GTEST_SKIP() << "no policy without " << dropped;
  StartOn(base);
  ASSERT_TRUE(h_->UpsertMember("m-1").ok());
  ASSERT_TRUE(Record(Order("m-1", "o-1", dropped)).ok());

  WritePolicy(*next);
  // The watcher checks every 20 ms: it is refused, and keeps being refused
  // while the order is open; the current policy keeps serving.
  absl::SleepFor(absl::Milliseconds(300));
  const std::string before = ActiveVersion();
  EXPECT_THAT(before, ::testing::StartsWith(base.name + "@"));
  EXPECT_TRUE(Record(Order("m-1", "o-2", dropped)).ok())
      << dropped << " is still served";

  // Rated, the orders are no longer open: the same file is then accepted.
  v1::SubmitRatingResponse rated;
  ASSERT_TRUE(Rate("k-1", "m-1", "o-1", &rated).ok());
  ASSERT_TRUE(Rate("k-2", "m-1", "o-2", &rated).ok());
  EXPECT_TRUE(testing::Eventually([&] { return ActiveVersion() != before; }))
      << "the policy without " << dropped << " was never loaded";
  grpc::Status refused = Record(Order("m-1", "o-3", dropped));
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(h_->Redis({"EXISTS", keys_.OrderOwnerKey("o-3")})->integer, 0);
}

TEST_F(CurrencyStateTest, AdminIndexesOrdersRecordedBeforeTheIndex) {
  // The tool reads windows against the real clock.
  h_->clock().Advance(absl::Now() - h_->clock().Now());
  StartDefault();
  ASSERT_TRUE(h_->UpsertMember("m-1").ok());
  ASSERT_TRUE(Record(Order("m-1", "o-1")).ok());
  ASSERT_TRUE(Record(Order("m-1", "o-2")).ok());
  v1::SubmitRatingResponse rated;
  ASSERT_TRUE(Rate("k-2", "m-1", "o-2", &rated).ok());
  const std::optional<std::string> score = OpenScore("m-1", "EUR", "o-1");
  ASSERT_TRUE(score.has_value());
  // As recorded before the index existed.
  ASSERT_TRUE(
      h_->Redis({"DEL", keys_.OpenOrdersKey(keys_.PartitionOf("m-1"))}).ok());
  WritePolicy(config_);
  const std::string redis_url =
      absl::StrCat("--redis=redis://", h_->config().redis.host, ":",
                   h_->config().redis.port, "/", h_->config().redis.db);
  auto indexed = testing::RunCommand(
      {kAdmin, "index-open-orders", "--policy=" + policy_path_, redis_url},
      absl::Seconds(30));
  ASSERT_TRUE(indexed.ok()) << indexed.status();
  EXPECT_EQ(indexed->exit_code, 0) << indexed->output;
  EXPECT_THAT(indexed->output, HasSubstr("\"indexed\":1"));
  EXPECT_THAT(indexed->output, HasSubstr("\"rated\":1"));
  EXPECT_EQ(OpenScore("m-1", "EUR", "o-1"), score) << "the recorded window";
  EXPECT_EQ(OpenScore("m-1", "EUR", "o-2"), std::nullopt) << "rated";
  auto without_policy = testing::RunCommand(
      {kAdmin, "index-open-orders", redis_url}, absl::Seconds(30));
  ASSERT_TRUE(without_policy.ok());
  EXPECT_EQ(without_policy->exit_code, 2);
}

// --- 3. Member state per currency ---

TEST_F(CurrencyStateTest, MemberMoneyIsStoredUnderTheOrdersCurrency) {
  StartDefault();
  ASSERT_TRUE(h_->UpsertMember("m-1").ok());
  ASSERT_TRUE(Record(Order("m-1", "o-1")).ok());
  v1::SubmitRatingResponse rated;
  ASSERT_TRUE(Rate("k-1", "m-1", "o-1", &rated).ok());
  ASSERT_TRUE(rated.decision().has_refund());
  const int64_t amount = rated.decision().refund().amount_minor();
  const auto stats = Stats("m-1");
  const std::string day = Day();
  EXPECT_EQ(stats.at("sp:EUR:" + day), "3000");
  EXPECT_EQ(stats.at("rm:EUR:" + day), absl::StrCat(amount));
  EXPECT_EQ(stats.at("rc:" + day), "1") << "counts stay across currencies";
  EXPECT_TRUE(stats.contains("ib_balance:EUR"));
  EXPECT_TRUE(stats.contains("ib_as_of_ms:EUR"));
  for (const char* legacy : {"ib_balance", "ib_as_of_ms"}) {
    EXPECT_FALSE(stats.contains(legacy)) << legacy;
  }
  EXPECT_FALSE(stats.contains("rm:" + day));
  EXPECT_FALSE(stats.contains("sp:" + day));
}

TEST_F(CurrencyStateTest, ACorrectionMovesTheSpendItCountedBeforeCurrencies) {
  StartDefault();
  ASSERT_TRUE(h_->UpsertMember("m-1").ok());
  v1::Order order = Order("m-1", "o-1");
  ASSERT_TRUE(Record(order).ok());
  const std::string day = Day();
  EXPECT_EQ(Stats("m-1").at("sp:EUR:" + day), "3000");
  // As an order recorded before currencies was stored: its spend in
  // sp:<day>, no spend_field.
  const std::string order_key = keys_.OrderKey("m-1", "o-1");
  ASSERT_TRUE(h_->Redis({"HDEL", order_key, "spend_field"}).ok());
  ASSERT_TRUE(
      h_->Redis({"HDEL", keys_.MemberStatsKey("m-1"), "sp:EUR:" + day}).ok());
  ASSERT_TRUE(
      h_->Redis({"HSET", keys_.MemberStatsKey("m-1"), "sp:" + day, "3000"})
          .ok());
  order.set_total_minor(3100);
  order.set_delivery_fee_minor(400);
  ASSERT_TRUE(Record(order).ok());
  const auto stats = Stats("m-1");
  EXPECT_EQ(stats.at("sp:" + day), "0") << "taken back where it was counted";
  EXPECT_EQ(stats.at("sp:EUR:" + day), "3100");
  EXPECT_EQ(Fields(*h_->Redis({"HGETALL", order_key})).at("spend_field"),
            "sp:EUR:" + day);
}

TEST_F(CurrencyStateTest, AnInstantBudgetStoredBeforeCurrenciesIsStillRead) {
  StartDefault();
  ASSERT_TRUE(h_->UpsertMember("m-1").ok());
  const std::string stats_key = keys_.MemberStatsKey("m-1");
  const std::string now_ms =
      absl::StrCat(absl::ToUnixMillis(h_->clock().Now()));
  ASSERT_TRUE(
      h_->Redis({"HSET", stats_key, "ib_balance", "123", "ib_as_of_ms", now_ms})
          .ok());
  v1::GetTrustResponse trust;
  ASSERT_TRUE(Trust("m-1", &trust).ok());
  EXPECT_EQ(trust.trust().instant_budget_remaining_minor(), 123)
      << "no one gains a full budget by the upgrade";
  // The currency's own budget, once stored, wins.
  const std::string currency = trust.trust().currency();
  ASSERT_FALSE(currency.empty());
  ASSERT_TRUE(h_->Redis({"HSET", stats_key, "ib_balance:" + currency, "456",
                         "ib_as_of_ms:" + currency, now_ms})
                  .ok());
  ASSERT_TRUE(Trust("m-1", &trust).ok());
  EXPECT_EQ(trust.trust().instant_budget_remaining_minor(), 456);
}

TEST_F(CurrencyStateTest, GetTrustInACurrencyThePolicyDoesNotServeIsRefused) {
  StartDefault();
  ASSERT_TRUE(h_->UpsertMember("m-1").ok());
  v1::GetTrustResponse trust;
  grpc::Status s = Trust("m-1", &trust, "CHF");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("CHF"));
  EXPECT_THAT(
      s.error_message(),
      HasSubstr(
          policy::ServedCurrencies(policy::DefaultPolicyConfig()).front()));
  s = Trust("m-1", &trust, "eur");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(CurrencyStateTest, TwoCurrenciesHaveTwoIndependentInstantBudgets) {
  const policy::PolicyConfig base = policy::DefaultPolicyConfig();
  const std::vector<std::string> served = policy::ServedCurrencies(base);
  if (served.size() < 2)
    GTEST_SKIP() << "needs a policy serving two currencies";
  const std::string& a = served[0];
  const std::string& b = served[1];
  StartOn(base);
  for (const char* member : {"m-1", "m-2"}) {
    ASSERT_TRUE(h_->UpsertMember(member).ok());
  }
  // m-1 spends in a first; m-2 never did.
  ASSERT_TRUE(Record(Order("m-1", "o-a", a)).ok());
  v1::SubmitRatingResponse in_a;
  ASSERT_TRUE(Rate("k-a", "m-1", "o-a", &in_a).ok());
  ASSERT_TRUE(in_a.decision().has_refund());
  EXPECT_EQ(in_a.decision().refund().currency(), a);
  ASSERT_TRUE(Stats("m-1").contains("ib_balance:" + a));
  EXPECT_FALSE(Stats("m-1").contains("ib_balance:" + b));

  // In b both are decided alike: a's refunds spent nothing of b's budget.
  // (History counts, such as refunds, are across currencies, so m-2 gets
  // one refund in a too, in an order of its own.)
  ASSERT_TRUE(Record(Order("m-2", "o-a2", a)).ok());
  v1::SubmitRatingResponse m2_in_a;
  ASSERT_TRUE(Rate("k-a2", "m-2", "o-a2", &m2_in_a).ok());
  // m-2's budget in a is reset to full (as if never spent): only b counts.
  ASSERT_TRUE(h_->Redis({"HDEL", keys_.MemberStatsKey("m-2"), "ib_balance:" + a,
                         "ib_as_of_ms:" + a})
                  .ok());
  ASSERT_TRUE(Record(Order("m-1", "o-b", b)).ok());
  ASSERT_TRUE(Record(Order("m-2", "o-b2", b)).ok());
  v1::SubmitRatingResponse m1_in_b, m2_in_b;
  ASSERT_TRUE(Rate("k-b", "m-1", "o-b", &m1_in_b).ok());
  ASSERT_TRUE(Rate("k-b2", "m-2", "o-b2", &m2_in_b).ok());
  EXPECT_EQ(m1_in_b.decision().outcome(), m2_in_b.decision().outcome());
  EXPECT_EQ(m1_in_b.decision().refund().amount_minor(),
            m2_in_b.decision().refund().amount_minor());
  EXPECT_EQ(m1_in_b.decision().refund().currency(), b);
  auto field = [&](const std::string& member, const std::string& name) {
    const auto stats = Stats(member);
    auto found = stats.find(name);
    return found == stats.end() ? std::string("(none)") : found->second;
  };
  EXPECT_EQ(field("m-1", "ib_balance:" + b), field("m-2", "ib_balance:" + b));
  // GetTrust reports each market's budget on its own: m-1's in a is what a's
  // refund left, in b the same as m-2's.
  v1::GetTrustResponse m1_a, m1_b, m2_b;
  ASSERT_TRUE(Trust("m-1", &m1_a, a).ok());
  ASSERT_TRUE(Trust("m-1", &m1_b, b).ok());
  ASSERT_TRUE(Trust("m-2", &m2_b, b).ok());
  EXPECT_EQ(m1_a.trust().currency(), a);
  EXPECT_EQ(m1_b.trust().currency(), b);
  EXPECT_EQ(absl::StrCat(m1_a.trust().instant_budget_remaining_minor()),
            field("m-1", "ib_balance:" + a));
  EXPECT_EQ(m1_b.trust().instant_budget_remaining_minor(),
            m2_b.trust().instant_budget_remaining_minor());
  EXPECT_EQ(field("m-1", "rm:" + b + ":" + Day()),
            field("m-2", "rm:" + b + ":" + Day()));
  if (in_a.decision().refund().instrument() != v1::INSTRUMENT_COUPON) {
    EXPECT_EQ(field("m-1", "rm:" + a + ":" + Day()),
              absl::StrCat(in_a.decision().refund().amount_minor()));
  }
}

// --- 4. Goodwill per currency ---

v1::GrantGoodwillRequest Grant(const std::string& key, int64_t amount,
                               const std::string& currency) {
  v1::GrantGoodwillRequest r;
  r.set_idempotency_key(key);
  r.set_agent_id("agent-7");
  r.set_member_id("m-1");
  r.set_amount_minor(amount);
  r.set_currency(currency);
  r.set_instrument(v1::INSTRUMENT_WALLET);
  r.set_reason("late_again");
  return r;
}

TEST_F(CurrencyStateTest, GoodwillIsRefusedInAnUnservedCurrency) {
  StartDefault();
  ASSERT_TRUE(h_->UpsertMember("m-1").ok());
  const auto before = h_->Snapshot();
  v1::GrantGoodwillResponse response;
  grpc::ClientContext context;
  grpc::Status refused = h_->stubs().goodwill->GrantGoodwill(
      &context, Grant("g-1", 100, "GBP"), &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ErrorReason(refused), "CURRENCY_NOT_SUPPORTED");
  EXPECT_THAT(refused.error_message(), HasSubstr("GBP"));
  EXPECT_EQ(h_->Snapshot(), before);
}

TEST_F(CurrencyStateTest, GoodwillBudgetsAreKeptPerCurrency) {
  h_->config().goodwill.agent_daily_budget_minor = 1000;
  h_->config().goodwill.member_budget_minor = 600;
  StartDefault();
  ASSERT_TRUE(h_->UpsertMember("m-1").ok());
  const int64_t day = absl::ToUnixSeconds(h_->clock().Now()) / 86400;
  const policy::GoodwillBudgets budgets =
      policy::GoodwillBudgetsFor(config_, "EUR")
          .value_or(policy::GoodwillBudgets{.agent_daily_minor = 1000,
                                            .member_30d_minor = 600});
  // What the agent granted today before currencies still counts.
  ASSERT_TRUE(h_->Redis({"HSET", keys_.AgentBudgetKey("agent-7", day), "spent",
                         absl::StrCat(budgets.agent_daily_minor - 100)})
                  .ok());
  v1::GrantGoodwillResponse response;
  {
    grpc::ClientContext context;
    grpc::Status refused = h_->stubs().goodwill->GrantGoodwill(
        &context, Grant("g-1", 250, "EUR"), &response);
    EXPECT_EQ(ErrorReason(refused), "AGENT_BUDGET_EXCEEDED");
  }
  {
    grpc::ClientContext context;
    ASSERT_TRUE(
        h_->stubs()
            .goodwill
            ->GrantGoodwill(&context, Grant("g-2", 100, "EUR"), &response)
            .ok());
  }
  EXPECT_EQ(response.agent_budget_remaining_minor(), 0);
  EXPECT_EQ(response.member_budget_remaining_minor(),
            budgets.member_30d_minor - 100);
  auto agent_day = Fields(
      *h_->Redis({"HGETALL", keys_.AgentBudgetKey("agent-7", "EUR", day)}));
  EXPECT_EQ(agent_day["spent"], "100");
  EXPECT_EQ(Stats("m-1").at(absl::StrCat("gw:EUR:", day)), "100");
}

TEST_F(CurrencyStateTest, OneCurrencysGoodwillNeverSpendsAnothersBudget) {
  const policy::PolicyConfig base = policy::DefaultPolicyConfig();
  const std::vector<std::string> served = policy::ServedCurrencies(base);
  if (served.size() < 2)
    GTEST_SKIP() << "needs a policy serving two currencies";
  h_->config().goodwill.agent_daily_budget_minor = 1000;
  h_->config().goodwill.member_budget_minor = 600;
  StartOn(base);
  ASSERT_TRUE(h_->UpsertMember("m-1").ok());
  auto budgets = [&](const std::string& currency) {
    return policy::GoodwillBudgetsFor(base, currency)
        .value_or(policy::GoodwillBudgets{.agent_daily_minor = 1000,
                                          .member_30d_minor = 600});
  };
  const std::string& a = served[0];
  const std::string& b = served[1];
  const int64_t all_of_a =
      std::min(budgets(a).member_30d_minor, budgets(a).agent_daily_minor);
  v1::GrantGoodwillResponse response;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(
        h_->stubs()
            .goodwill
            ->GrantGoodwill(&context, Grant("g-a", all_of_a, a), &response)
            .ok());
  }
  {
    grpc::ClientContext context;
    grpc::Status in_b = h_->stubs().goodwill->GrantGoodwill(
        &context, Grant("g-b", 1, b), &response);
    ASSERT_TRUE(in_b.ok()) << in_b.error_message();
  }
  EXPECT_EQ(response.member_budget_remaining_minor(),
            budgets(b).member_30d_minor - 1);
  EXPECT_EQ(response.agent_budget_remaining_minor(),
            budgets(b).agent_daily_minor - 1);
}

// --- 5. makegood_admin check per currency ---

TEST_F(CurrencyStateTest, AdminCheckFindsARefundInAnotherCurrencyThanItsOrder) {
  StartDefault();
  ASSERT_TRUE(h_->UpsertMember("m-1").ok());
  ASSERT_TRUE(Record(Order("m-1", "o-1")).ok());
  v1::SubmitRatingResponse rated;
  ASSERT_TRUE(Rate("k-1", "m-1", "o-1", &rated).ok());
  ASSERT_TRUE(rated.decision().has_refund());
  auto [clean, clean_code] = Check();
  EXPECT_EQ(clean_code, 0) << clean.dump();
  EXPECT_EQ(clean["counts"]["orders_by_currency"]["EUR"], 1);

  const int p = keys_.PartitionOf("m-1");
  ASSERT_TRUE(
      h_->Redis({"HSET",
                 keys_.RefundKey(p, rated.decision().refund().refund_id()),
                 "currency", "KRW"})
          .ok());
  auto [report, code] = Check();
  EXPECT_EQ(code, 1);
  bool found = false;
  for (const auto& v : report["violations"]) {
    if (v["check"] == "order_refund_currency") {
      found = true;
      EXPECT_EQ(v["order_currency"], "EUR");
      EXPECT_EQ(v["refund_currency"], "KRW");
    }
  }
  EXPECT_TRUE(found) << report.dump();
}

TEST_F(CurrencyStateTest,
       AdminCheckReportsOrdersInCurrenciesAPolicyNoLongerServes) {
  StartDefault();
  ASSERT_TRUE(h_->UpsertMember("m-1").ok());
  ASSERT_TRUE(Record(Order("m-1", "o-1")).ok());
  WritePolicy(config_);
  auto [served, served_code] = Check({"--policy=" + policy_path_});
  EXPECT_EQ(served_code, 0);
  EXPECT_EQ(served["currencies"]["unserved_count"], 0);

  std::optional<policy::PolicyConfig> without = Dropping("EUR");
  if (!without.has_value()) GTEST_SKIP() << "no policy without EUR";
  WritePolicy(*without);
  auto [report, code] = Check({"--policy=" + policy_path_});
  EXPECT_EQ(code, 0) << "reported, not a violation";
  EXPECT_EQ(report["currencies"]["unserved_count"], 1) << report.dump();
  ASSERT_EQ(report["currencies"]["unserved"].size(), 1u);
  EXPECT_EQ(report["currencies"]["unserved"][0]["order_id"], "o-1");
  EXPECT_EQ(report["currencies"]["unserved"][0]["currency"], "EUR");
  auto missing = testing::RunCommand(
      {kAdmin, "check", "--policy=/nonexistent/policy",
       absl::StrCat("--redis=redis://", h_->config().redis.host, ":",
                    h_->config().redis.port, "/", h_->config().redis.db)},
      absl::Seconds(30));
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->exit_code, 2) << "nothing can be concluded";
}

}  // namespace
}  // namespace makegood
