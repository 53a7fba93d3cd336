// The reload guard for currencies (open_orders.h) on FakeRedis: open orders
// are counted per currency over every partition, and a policy that stops
// serving a currency with open orders is refused.
#include "services/policy_reload/open_orders.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/policy/markets.h"
#include "services/policy/policy_config.h"
#include "services/policy_file/policy_document.h"
#include "services/policy_proto/policy_convert.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_redis.h"

namespace makegood::policy_reload {
namespace {

using ::makegood::testing::FakeRedis;
using ::makegood::testing::Reply;
using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1'780'000'000);

policy_file::PolicySnapshot Snapshot(const policy::PolicyConfig& config) {
  absl::StatusOr<policy_file::PolicySnapshot> snapshot =
      policy_file::BuildPolicySnapshot(policy_proto::FromPolicyConfig(config),
                                       kNow);
  EXPECT_TRUE(snapshot.ok()) << snapshot.status();
  return *snapshot;
}

// The default policy, and one like it that no longer serves `dropped`: a
// single currency of the default's other served ones, or, when it serves
// one only, another currency. nullopt when no such policy can be built.
std::optional<policy::PolicyConfig> Dropping(const std::string& dropped) {
  const policy::PolicyConfig base = policy::DefaultPolicyConfig();
  for (const std::string& other : policy::ServedCurrencies(base)) {
    if (other == dropped) continue;
    absl::StatusOr<policy::PolicyConfig> one = policy::ForCurrency(base, other);
    if (one.ok() && !policy::Serves(*one, dropped)) return *one;
  }
  policy::PolicyConfig other = base;
  other.currency = "GBP";
  if (policy::Serves(other, dropped)) return std::nullopt;
  return other;
}

// Replies ZRANGEBYSCORE with `members` for the partition whose key is
// `key`, and nothing for the others.
class OpenOrdersTest : public ::testing::Test {
 protected:
  void Members(int partition, std::vector<std::string> members) {
    by_key_[keys_.OpenOrdersKey(partition)] = std::move(members);
  }
  void SetUp() override {
    redis_.On("ZRANGEBYSCORE", [this](const FakeRedis::Call& call) {
      std::vector<redis::RedisReply> out;
      auto found = by_key_.find(call.argv.size() > 1 ? call.argv[1] : "");
      if (found != by_key_.end()) {
        for (const std::string& m : found->second) out.push_back(Reply(m));
      }
      return absl::StatusOr<redis::RedisReply>(Reply(std::move(out)));
    });
  }

  store::KeySchema keys_ = *store::KeySchema::Create(8);
  FakeRedis redis_;
  OpenOrders open_{redis_, keys_};
  testing::FakeClock clock_{kNow};
  std::map<std::string, std::vector<std::string>> by_key_;
};

TEST_F(OpenOrdersTest, CountsEveryPartitionsOpenOrdersPerCurrency) {
  Members(0, {"EUR:o-1", "KRW:o-2"});
  Members(5, {"KRW:o-3", "KRW:o-4"});
  Members(7, {"EUR:o-5"});
  auto counts = open_.Count(kNow);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->size(), 2u);
  EXPECT_EQ(counts->at("EUR"), 2);
  EXPECT_EQ(counts->at("KRW"), 3);
  // One command per partition, from now on (ended windows do not count).
  std::vector<FakeRedis::Call> calls = redis_.calls("ZRANGEBYSCORE");
  ASSERT_EQ(calls.size(), 8u);
  for (int p = 0; p < 8; ++p) {
    EXPECT_THAT(
        calls[p].argv,
        ::testing::ElementsAre("ZRANGEBYSCORE", keys_.OpenOrdersKey(p),
                               absl::StrCat(absl::ToUnixMillis(kNow)), "+inf"));
  }
}

TEST_F(OpenOrdersTest, APartitionThatCannotBeReadFailsTheCount) {
  redis_.Inject("ZRANGEBYSCORE", FakeRedis::Fault::kError);
  EXPECT_FALSE(open_.Count(kNow).ok());
}

TEST_F(OpenOrdersTest, AReloadThatDropsNoCurrencyReadsNothing) {
  ReloadGuard guard = DroppedCurrencyGuard(open_, clock_);
  const policy_file::PolicySnapshot current =
      Snapshot(policy::DefaultPolicyConfig());
  EXPECT_FALSE(guard(current, current).has_value());
  EXPECT_TRUE(redis_.calls().empty());
}

TEST_F(OpenOrdersTest, DroppingACurrencyWithOpenOrdersIsRefusedNamingIt) {
  const policy::PolicyConfig base = policy::DefaultPolicyConfig();
  const std::string dropped = policy::ServedCurrencies(base).front();
  std::optional<policy::PolicyConfig> next = Dropping(dropped);
  if (!next.has_value()) GTEST_SKIP() << "no policy without " << dropped;
  Members(2, {dropped + ":o-1", "XXX:o-9"});
  Members(6, {dropped + ":o-2"});
  ReloadGuard guard = DroppedCurrencyGuard(open_, clock_);
  std::optional<ReloadRefusal> refusal = guard(Snapshot(base), Snapshot(*next));
  ASSERT_TRUE(refusal.has_value());
  EXPECT_EQ(refusal->currency, dropped);
  EXPECT_EQ(refusal->open_orders, 2);
  EXPECT_THAT(refusal->message, HasSubstr(dropped));
  EXPECT_THAT(refusal->message, HasSubstr("2 unrated orders"));
}

TEST_F(OpenOrdersTest, DroppingACurrencyWithoutOpenOrdersIsAllowed) {
  const policy::PolicyConfig base = policy::DefaultPolicyConfig();
  const std::string dropped = policy::ServedCurrencies(base).front();
  std::optional<policy::PolicyConfig> next = Dropping(dropped);
  if (!next.has_value()) GTEST_SKIP() << "no policy without " << dropped;
  // Open, but in a currency the next policy serves.
  const std::string kept = policy::ServedCurrencies(*next).front();
  Members(3, {kept + ":o-1"});
  Members(4, {kept + ":o-2"});
  ReloadGuard guard = DroppedCurrencyGuard(open_, clock_);
  EXPECT_FALSE(guard(Snapshot(base), Snapshot(*next)).has_value());
  EXPECT_EQ(redis_.count("ZRANGEBYSCORE"), 8);
}

TEST_F(OpenOrdersTest, OpenOrdersThatCannotBeCountedRefuseTheReload) {
  const policy::PolicyConfig base = policy::DefaultPolicyConfig();
  const std::string dropped = policy::ServedCurrencies(base).front();
  std::optional<policy::PolicyConfig> next = Dropping(dropped);
  if (!next.has_value()) GTEST_SKIP() << "no policy without " << dropped;
  redis_.set_ready(false);
  ReloadGuard guard = DroppedCurrencyGuard(open_, clock_);
  std::optional<ReloadRefusal> refusal = guard(Snapshot(base), Snapshot(*next));
  ASSERT_TRUE(refusal.has_value());
  EXPECT_THAT(refusal->message, HasSubstr("cannot be counted"));
}

}  // namespace
}  // namespace makegood::policy_reload
