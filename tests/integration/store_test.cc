// Integration tests of the order and member stores against a real Redis.
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "services/redis/hiredis_client.h"
#include "services/store/key_schema.h"
#include "services/store/member_store.h"
#include "services/store/order_store.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/redis_server.h"

namespace makegood::store {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::makegood::testing::FakeClock;
using ::makegood::testing::RedisServer;
using ::makegood::v1::Member;
using ::makegood::v1::Order;
using ::makegood::v1::WriteResult;
using ::testing::HasSubstr;

// Runs an async store call and waits for its result.
template <typename T, typename Call>
absl::StatusOr<T> Await(Call call) {
  absl::Notification done;
  absl::StatusOr<T> result;
  call([&](absl::StatusOr<T> r) {
    result = std::move(r);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

std::map<std::string, std::string> AsMap(const redis::RedisReply& hgetall) {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i + 1 < hgetall.elements.size(); i += 2) {
    out[hgetall.elements[i].str] = hgetall.elements[i + 1].str;
  }
  return out;
}

Order SampleOrder() {
  Order order;
  order.set_order_id("o-1");
  order.set_member_id("m-1");
  order.set_store_id("s-1");
  order.set_courier_id("c-1");
  order.set_currency("EUR");
  order.set_total_minor(2500);
  order.set_delivery_fee_minor(300);
  auto* ice = order.add_lines();
  ice->set_line_id("l1");
  ice->set_sku("ICE");
  ice->set_category("frozen");
  ice->set_quantity(1);
  ice->set_amount_minor(800);
  auto* bread = order.add_lines();
  bread->set_line_id("l2");
  bread->set_sku("BREAD");
  bread->set_quantity(2);
  bread->set_amount_minor(1400);
  *order.mutable_delivered_at() = TimeUtil::SecondsToTimestamp(1795000000);
  order.set_payment_method(makegood::v1::PAYMENT_METHOD_CARD);
  return order;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    redis_server_ = *std::move(server);
    redis::RedisOptions options;
    ASSERT_TRUE(redis::ParseRedisUrl(redis_server_->url(), &options).ok());
    auto client = redis::HiredisClient::Start(options);
    ASSERT_TRUE(client.ok());
    redis_ = *std::move(client);
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (redis_->ready_connections() < options.connections &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    orders_ = std::make_unique<OrderStore>(*redis_, keys_, clock_);
    members_ = std::make_unique<MemberStore>(*redis_, keys_, clock_);
  }

  absl::StatusOr<WriteResult> Record(const Order& order) {
    return Await<WriteResult>([&](auto done) {
      orders_->RecordDelivery(order, absl::Hours(24 * 7), std::move(done));
    });
  }
  absl::StatusOr<StoredOrder> Get(const std::string& id) {
    return Await<StoredOrder>(
        [&](auto done) { orders_->GetOrder(id, std::move(done)); });
  }
  absl::StatusOr<WriteResult> Upsert(const Member& member) {
    return Await<WriteResult>(
        [&](auto done) { members_->UpsertMember(member, std::move(done)); });
  }
  int64_t KeyCount() {
    auto reply = redis_->CommandSync({"DBSIZE"});
    EXPECT_TRUE(reply.ok());
    return reply.ok() ? reply->integer : -1;
  }

  FakeClock clock_{absl::FromUnixSeconds(1795000100)};
  KeySchema keys_ = *KeySchema::Create(64);
  std::unique_ptr<RedisServer> redis_server_;
  std::unique_ptr<redis::RedisClient> redis_;
  std::unique_ptr<OrderStore> orders_;
  std::unique_ptr<MemberStore> members_;
};

TEST_F(StoreTest, RecordingAnOrderCreatesItThenRepeatsChangeNothing) {
  Order order = SampleOrder();
  EXPECT_EQ(*Record(order), makegood::v1::WRITE_RESULT_CREATED);
  auto hash_before = redis_->CommandSync(
      {"HGETALL", keys_.OrderKey(order.member_id(), order.order_id())});
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(*Record(order), makegood::v1::WRITE_RESULT_UNCHANGED);
  auto hash_after = redis_->CommandSync(
      {"HGETALL", keys_.OrderKey(order.member_id(), order.order_id())});
  ASSERT_TRUE(hash_before.ok() && hash_after.ok());
  // HGETALL's order is not stable (incremental rehashing): compare as maps.
  EXPECT_EQ(AsMap(*hash_before), AsMap(*hash_after));
  EXPECT_EQ(AsMap(*hash_after)["updated_at_ms"], "1795000100000");
  auto stored = Get("o-1");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->order.SerializeAsString(), order.SerializeAsString());
  EXPECT_EQ(stored->refunded_minor, 0);
  EXPECT_FALSE(stored->rated);
}

TEST_F(StoreTest, OrderKeysLiveInTheMembersPartition) {
  Order order = SampleOrder();
  ASSERT_TRUE(Record(order).ok());
  std::string tag =
      "{" + keys_.PartitionTag(keys_.PartitionOf(order.member_id())) + "}";
  auto exists = redis_->CommandSync(
      {"EXISTS", "mg:" + tag + ":order:" + order.order_id()});
  ASSERT_TRUE(exists.ok());
  EXPECT_EQ(exists->integer, 1);
  auto owner = redis_->CommandSync({"GET", keys_.OrderOwnerKey("o-1")});
  ASSERT_TRUE(owner.ok());
  EXPECT_EQ(owner->str, "m-1");
}

TEST_F(StoreTest, UnratedOrderCanBeCorrected) {
  Order order = SampleOrder();
  ASSERT_TRUE(Record(order).ok());
  order.set_total_minor(2600);
  EXPECT_EQ(*Record(order), makegood::v1::WRITE_RESULT_UPDATED);
  EXPECT_EQ(Get("o-1")->order.total_minor(), 2600);
}

TEST_F(StoreTest, ACorrectionMovesTheOrdersSpendAndOpenEntryToItsCurrency) {
  Order order = SampleOrder();
  ASSERT_TRUE(Record(order).ok());
  const std::string open = keys_.OpenOrdersKey(keys_.PartitionOf("m-1"));
  const std::string stats = keys_.MemberStatsKey("m-1");
  const std::string day = absl::StrCat(1795000000 / 86400);
  // Delivered at 1795000000 s, open for the window given (7 days).
  EXPECT_EQ(redis_->CommandSync({"ZSCORE", open, "EUR:o-1"})->str,
            absl::StrCat(1795000000000 + 7 * 86400000LL));
  order.set_currency("KRW");
  order.set_total_minor(25000);
  EXPECT_EQ(*Record(order), makegood::v1::WRITE_RESULT_UPDATED);
  EXPECT_TRUE(redis_->CommandSync({"ZSCORE", open, "EUR:o-1"})->is_nil());
  EXPECT_FALSE(redis_->CommandSync({"ZSCORE", open, "KRW:o-1"})->is_nil());
  auto spend = AsMap(*redis_->CommandSync({"HGETALL", stats}));
  EXPECT_EQ(spend["sp:EUR:" + day], "0");
  EXPECT_EQ(spend["sp:KRW:" + day], "25000");
  EXPECT_EQ(spend["delivered_orders"], "1");
  // Ended windows are trimmed by the next record of the partition.
  clock_.Advance(absl::Hours(24 * 8));
  Order other = SampleOrder();
  other.set_order_id("o-2");
  *other.mutable_delivered_at() =
      TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(clock_.Now()) - 60);
  ASSERT_TRUE(Record(other).ok());
  EXPECT_TRUE(redis_->CommandSync({"ZSCORE", open, "KRW:o-1"})->is_nil());
  EXPECT_EQ(redis_->CommandSync({"ZCARD", open})->integer, 1);
}

TEST_F(StoreTest, RatedOrderRefusesMoneyChangesButAcceptsOthers) {
  Order order = SampleOrder();
  ASSERT_TRUE(Record(order).ok());
  // The rating path marks an order rated; simulate it.
  ASSERT_TRUE(
      redis_->CommandSync({"HSET", keys_.OrderKey("m-1", "o-1"), "rated", "1"})
          .ok());
  Order money = order;
  money.mutable_lines(0)->set_amount_minor(900);
  money.set_total_minor(2600);
  auto refused = Record(money);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("has been rated"));
  EXPECT_EQ(Get("o-1")->order.total_minor(), 2500);

  Order courier = order;
  courier.set_courier_id("c-2");
  EXPECT_EQ(*Record(courier), makegood::v1::WRITE_RESULT_UPDATED);
  EXPECT_EQ(Get("o-1")->order.courier_id(), "c-2");
}

TEST_F(StoreTest, AnOrderCannotMoveToAnotherMember) {
  Order order = SampleOrder();
  ASSERT_TRUE(Record(order).ok());
  int64_t keys_before = KeyCount();
  Order other = order;
  other.set_member_id("m-2");
  auto refused = Record(other);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("another member"));
  EXPECT_EQ(KeyCount(), keys_before);
  EXPECT_EQ(Get("o-1")->order.member_id(), "m-1");
}

TEST_F(StoreTest, UnknownOrderIsNotFound) {
  EXPECT_EQ(Get("nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, MemberUpsertCreatesUpdatesAndLeavesIdenticalAlone) {
  Member member;
  member.set_member_id("m-1");
  member.set_tier("premium");
  *member.mutable_member_since() = TimeUtil::SecondsToTimestamp(1700000000);
  member.add_flags("verified");
  EXPECT_EQ(*Upsert(member), makegood::v1::WRITE_RESULT_CREATED);
  EXPECT_EQ(*Upsert(member), makegood::v1::WRITE_RESULT_UNCHANGED);
  member.set_tier("plus");
  EXPECT_EQ(*Upsert(member), makegood::v1::WRITE_RESULT_UPDATED);
  auto stored = Await<Member>(
      [&](auto done) { members_->GetMember("m-1", std::move(done)); });
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->tier(), "plus");
  auto tier = redis_->CommandSync({"HGET", keys_.MemberKey("m-1"), "tier"});
  EXPECT_EQ(tier->str, "plus");
  auto missing = Await<Member>(
      [&](auto done) { members_->GetMember("m-9", std::move(done)); });
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, WritesFailUnavailableWhileRedisIsDown) {
  ASSERT_TRUE(redis_server_->Stop().ok());
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (redis_->ready_connections() > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(Record(SampleOrder()).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace makegood::store
