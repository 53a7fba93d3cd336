// Member state per currency (snapshot.h): money history and instant budgets
// are read in one currency, counts across currencies, and fields stored
// before currencies count in every currency.
#include "services/rating/snapshot.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "makegood/v1/member.pb.h"
#include "services/redis/redis_reply.h"

namespace makegood::rating {
namespace {

using redis::RedisReply;
using ::testing::UnorderedElementsAre;

const absl::Time kNow = absl::FromUnixSeconds(1'780'272'000);  // Day 20605.
const int64_t kToday = DayNumber(kNow);

RedisReply MemberPb() {
  makegood::v1::Member member;
  member.set_member_id("m-1");
  member.set_tier("premium");
  return RedisReply::String(member.SerializeAsString());
}

// A flat HGETALL reply of `fields`.
RedisReply Stats(
    const std::vector<std::pair<std::string, std::string>>& fields) {
  std::vector<RedisReply> flat;
  for (const auto& [field, value] : fields) {
    flat.push_back(RedisReply::String(field));
    flat.push_back(RedisReply::String(value));
  }
  return RedisReply::Array(std::move(flat));
}

std::string Day(int64_t days_ago) { return absl::StrCat(kToday - days_ago); }

TEST(MemberFromStoredPerCurrency, MoneyIsReadInOneCurrencyAndCountsInAll) {
  const RedisReply stats = Stats({
      {"delivered_orders", "4"},
      {"sp:EUR:" + Day(1), "3000"},
      {"sp:KRW:" + Day(1), "45000"},
      {"rm:EUR:" + Day(2), "500"},
      {"rm:KRW:" + Day(40), "8000"},
      {"rc:" + Day(2), "1"},
      {"rc:" + Day(40), "1"},
      {"lr:" + Day(3), "2"},
      {"ib_balance:EUR", "1500"},
      {"ib_as_of_ms:EUR", "1780000000000"},
      {"ib_balance:KRW", "20000"},
      {"ib_as_of_ms:KRW", "1780100000000"},
  });
  auto eur = MemberFromStored(MemberPb(), stats, kNow, "EUR");
  auto krw = MemberFromStored(MemberPb(), stats, kNow, "KRW");
  ASSERT_TRUE(eur.ok()) << eur.status();
  ASSERT_TRUE(krw.ok()) << krw.status();

  const policy::MemberHistory& e = eur->snapshot.history;
  EXPECT_EQ(e.spend_90d_minor, 3000);
  EXPECT_EQ(e.refunded_30d_minor, 500);
  EXPECT_EQ(e.refunded_90d_minor, 500);
  const policy::MemberHistory& k = krw->snapshot.history;
  EXPECT_EQ(k.spend_90d_minor, 45000);
  EXPECT_EQ(k.refunded_30d_minor, 0) << "40 days ago: the long window only";
  EXPECT_EQ(k.refunded_90d_minor, 8000);
  // Counts are the member's, whatever the currency.
  for (const policy::MemberHistory* h : {&e, &k}) {
    EXPECT_EQ(h->delivered_orders, 4);
    EXPECT_EQ(h->refunds_90d, 2);
    EXPECT_EQ(h->refunds_30d, 1);
    EXPECT_EQ(h->low_ratings_30d, 2);
  }
  // Two independent instant budgets.
  ASSERT_TRUE(eur->snapshot.instant_budget.has_value());
  ASSERT_TRUE(krw->snapshot.instant_budget.has_value());
  EXPECT_EQ(eur->snapshot.instant_budget->balance_minor, 1500);
  EXPECT_EQ(eur->snapshot.instant_budget->as_of,
            absl::FromUnixMillis(1780000000000));
  EXPECT_EQ(krw->snapshot.instant_budget->balance_minor, 20000);
  EXPECT_EQ(krw->snapshot.instant_budget->as_of,
            absl::FromUnixMillis(1780100000000));
}

TEST(MemberFromStoredPerCurrency, ACurrencyWithNothingStoredStartsEmpty) {
  const RedisReply stats = Stats({{"rm:EUR:" + Day(2), "500"},
                                  {"ib_balance:EUR", "1500"},
                                  {"ib_as_of_ms:EUR", "1780000000000"}});
  auto usd = MemberFromStored(MemberPb(), stats, kNow, "USD");
  ASSERT_TRUE(usd.ok()) << usd.status();
  EXPECT_EQ(usd->snapshot.history.refunded_90d_minor, 0);
  EXPECT_FALSE(usd->snapshot.instant_budget.has_value())
      << "a full budget of its own, not EUR's";
}

TEST(MemberFromStoredPerCurrency, FieldsStoredBeforeCurrenciesCountInEvery) {
  // Written by a deployment that served one currency: no currency in them.
  const RedisReply stats = Stats({{"sp:" + Day(1), "2000"},
                                  {"rm:" + Day(5), "700"},
                                  {"rc:" + Day(5), "1"},
                                  {"ib_balance", "300"},
                                  {"ib_as_of_ms", "1780200000000"},
                                  {"rm:EUR:" + Day(1), "100"},
                                  {"ib_balance:EUR", "900"},
                                  {"ib_as_of_ms:EUR", "1780250000000"}});
  auto eur = MemberFromStored(MemberPb(), stats, kNow, "EUR");
  auto krw = MemberFromStored(MemberPb(), stats, kNow, "KRW");
  ASSERT_TRUE(eur.ok() && krw.ok());
  EXPECT_EQ(eur->snapshot.history.spend_90d_minor, 2000);
  EXPECT_EQ(eur->snapshot.history.refunded_30d_minor, 800);
  EXPECT_EQ(krw->snapshot.history.spend_90d_minor, 2000);
  EXPECT_EQ(krw->snapshot.history.refunded_30d_minor, 700);
  // A currency's own budget wins; one without reads the old budget, so no
  // one gains a full budget by the upgrade.
  ASSERT_TRUE(eur->snapshot.instant_budget.has_value());
  EXPECT_EQ(eur->snapshot.instant_budget->balance_minor, 900);
  ASSERT_TRUE(krw->snapshot.instant_budget.has_value());
  EXPECT_EQ(krw->snapshot.instant_budget->balance_minor, 300);
  EXPECT_EQ(krw->snapshot.instant_budget->as_of,
            absl::FromUnixMillis(1780200000000));
}

TEST(MemberFromStoredPerCurrency, ExpiredBucketsOfEveryCurrencyAreDeleted) {
  const RedisReply stats = Stats({{"sp:EUR:" + Day(91), "1"},
                                  {"rm:KRW:" + Day(90), "1"},
                                  {"rm:" + Day(100), "1"},
                                  {"gw:CNY:" + Day(95), "1"},
                                  {"rm:EUR:" + Day(89), "5"}});
  auto eur = MemberFromStored(MemberPb(), stats, kNow, "EUR");
  ASSERT_TRUE(eur.ok());
  EXPECT_THAT(eur->expired_fields,
              UnorderedElementsAre("sp:EUR:" + Day(91), "rm:KRW:" + Day(90),
                                   "rm:" + Day(100), "gw:CNY:" + Day(95)));
  EXPECT_EQ(eur->snapshot.history.refunded_90d_minor, 5);
}

TEST(ParseAdmitSnapshotPerCurrency, ReadsTheMembersMoneyInTheOrdersCurrency) {
  makegood::v1::Order order;
  order.set_order_id("o-1");
  order.set_member_id("m-1");
  order.set_currency("KRW");
  order.set_total_minor(45000);
  AdmitReply fresh;
  fresh.order_pb = RedisReply::String(order.SerializeAsString());
  fresh.order_refunded_minor = RedisReply::String("0");
  fresh.member_pb = MemberPb();
  fresh.stats = Stats({{"rm:EUR:" + Day(1), "500"},
                       {"rm:KRW:" + Day(1), "9000"},
                       {"ib_balance:EUR", "100"},
                       {"ib_as_of_ms:EUR", "1780000000000"},
                       {"ib_balance:KRW", "30000"},
                       {"ib_as_of_ms:KRW", "1780000000000"}});
  auto snapshot = ParseAdmitSnapshot(fresh, kNow);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->member_snapshot.history.refunded_30d_minor, 9000);
  ASSERT_TRUE(snapshot->member_snapshot.instant_budget.has_value());
  EXPECT_EQ(snapshot->member_snapshot.instant_budget->balance_minor, 30000);
}

}  // namespace
}  // namespace makegood::rating
