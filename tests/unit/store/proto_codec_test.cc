#include "services/store/proto_codec.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/timestamp.pb.h"
#include "gtest/gtest.h"
#include "makegood/v1/order.pb.h"
#include "services/redis/redis_reply.h"
#include "services/store/order_store.h"

namespace makegood::store {
namespace {

using makegood::v1::Order;
using makegood::v1::OrderLine;
using ::testing::HasSubstr;

OrderLine* AddLine(Order& order, const std::string& id, int quantity,
                   int64_t amount) {
  OrderLine* line = order.add_lines();
  line->set_line_id(id);
  line->set_sku("sku-" + id);
  line->set_category("frozen");
  line->set_quantity(quantity);
  line->set_amount_minor(amount);
  return line;
}

Order SampleOrder() {
  Order order;
  order.set_order_id("order-1");
  order.set_member_id("member-1");
  order.set_store_id("store-1");
  order.set_courier_id("courier-1");
  order.set_currency("EUR");
  order.set_total_minor(2599);
  order.set_delivery_fee_minor(299);
  AddLine(order, "l1", 2, 1000);
  AddLine(order, "l2", 1, 1300);
  order.mutable_delivered_at()->set_seconds(1'700'000'000);
  order.set_payment_method(makegood::v1::PAYMENT_METHOD_CARD);
  return order;
}

std::string Fingerprint(const Order& order) {
  return OrderStore::MoneyFingerprint(order);
}

TEST(MoneyFingerprint, ListsCurrencyTotalFeeAndLinesSortedById) {
  Order order = SampleOrder();
  order.mutable_lines()->SwapElements(0, 1);
  EXPECT_EQ(Fingerprint(order), "EUR|2599|299|l1:2:1000|l2:1:1300");
}

TEST(MoneyFingerprint, IgnoresLineOrder) {
  Order order = SampleOrder();
  Order reordered = order;
  reordered.mutable_lines()->SwapElements(0, 1);
  ASSERT_NE(order.lines(0).line_id(), reordered.lines(0).line_id());
  EXPECT_EQ(Fingerprint(order), Fingerprint(reordered));
}

TEST(MoneyFingerprint, IgnoresFieldsThatAreNotMoney) {
  Order order = SampleOrder();
  Order changed = order;
  changed.set_order_id("order-2");
  changed.set_member_id("member-2");
  changed.set_store_id("store-2");
  changed.set_courier_id("");
  changed.mutable_delivered_at()->set_seconds(1'800'000'000);
  changed.set_payment_method(makegood::v1::PAYMENT_METHOD_CASH);
  changed.mutable_lines(0)->set_sku("other-sku");
  changed.mutable_lines(1)->set_category("alcohol");
  EXPECT_EQ(Fingerprint(order), Fingerprint(changed));
}

TEST(MoneyFingerprint, ChangesWithEveryMoneyField) {
  const Order order = SampleOrder();
  const std::string base = Fingerprint(order);
  struct Change {
    const char* what;
    void (*apply)(Order&);
  };
  for (const Change& change : {
           Change{"currency", [](Order& o) { o.set_currency("USD"); }},
           Change{"total", [](Order& o) { o.set_total_minor(2600); }},
           Change{"fee", [](Order& o) { o.set_delivery_fee_minor(300); }},
           Change{"quantity",
                  [](Order& o) { o.mutable_lines(1)->set_quantity(2); }},
           Change{"amount",
                  [](Order& o) { o.mutable_lines(0)->set_amount_minor(999); }},
           Change{"line id",
                  [](Order& o) { o.mutable_lines(0)->set_line_id("l9"); }},
           Change{"line added", [](Order& o) { AddLine(o, "l3", 1, 0); }},
           Change{"line removed",
                  [](Order& o) { o.mutable_lines()->RemoveLast(); }},
       }) {
    Order changed = order;
    change.apply(changed);
    EXPECT_NE(Fingerprint(changed), base) << change.what;
  }
}

TEST(MoneyFingerprint, DoesNotConfuseQuantityWithAmount) {
  Order a = SampleOrder();
  Order b = SampleOrder();
  a.mutable_lines(0)->set_quantity(2);
  a.mutable_lines(0)->set_amount_minor(1000);
  b.mutable_lines(0)->set_quantity(1000);
  b.mutable_lines(0)->set_amount_minor(2);
  EXPECT_NE(Fingerprint(a), Fingerprint(b));
}

TEST(SerializeDeterministic, RoundTripsTheMessage) {
  Order order = SampleOrder();
  Order parsed;
  ASSERT_TRUE(parsed.ParseFromString(SerializeDeterministic(order)));
  EXPECT_EQ(parsed.SerializeAsString(), order.SerializeAsString());
  EXPECT_EQ(parsed.lines(1).line_id(), "l2");
  EXPECT_EQ(parsed.delivered_at().seconds(), 1'700'000'000);
}

TEST(SerializeDeterministic, IsEqualForEqualContentBuiltInAnotherOrder) {
  Order a = SampleOrder();
  Order b;
  // Same content, fields set in reverse order and through a copy.
  b.set_payment_method(makegood::v1::PAYMENT_METHOD_CARD);
  b.mutable_delivered_at()->set_seconds(1'700'000'000);
  *b.add_lines() = a.lines(0);
  *b.add_lines() = a.lines(1);
  b.set_delivery_fee_minor(299);
  b.set_total_minor(2599);
  b.set_currency("EUR");
  b.set_courier_id("courier-1");
  b.set_store_id("store-1");
  b.set_member_id("member-1");
  b.set_order_id("order-1");
  EXPECT_EQ(SerializeDeterministic(a), SerializeDeterministic(b));
  EXPECT_EQ(SerializeDeterministic(a), SerializeDeterministic(Order(a)));
}

TEST(SerializeDeterministic, DiffersWhenContentDiffers) {
  Order a = SampleOrder();
  Order b = a;
  b.mutable_lines(1)->set_sku("sku-other");
  EXPECT_NE(SerializeDeterministic(a), SerializeDeterministic(b));
}

TEST(SerializeDeterministic, GivesEmptyBytesForAnEmptyMessage) {
  EXPECT_EQ(SerializeDeterministic(Order()), "");
}

TEST(ParseWriteResult, MapsEachOutcomeToItsEnum) {
  EXPECT_EQ(*ParseWriteResult("CREATED"), makegood::v1::WRITE_RESULT_CREATED);
  EXPECT_EQ(*ParseWriteResult("UPDATED"), makegood::v1::WRITE_RESULT_UPDATED);
  EXPECT_EQ(*ParseWriteResult("UNCHANGED"),
            makegood::v1::WRITE_RESULT_UNCHANGED);
}

TEST(ParseWriteResult, RefusesAnyOtherOutcomeAsInternal) {
  for (const char* outcome : {"", "created", "MONEY_LOCKED", "CREATED "}) {
    absl::StatusOr<makegood::v1::WriteResult> result =
        ParseWriteResult(outcome);
    ASSERT_FALSE(result.ok()) << outcome;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
    EXPECT_THAT(std::string(result.status().message()),
                HasSubstr(absl::StrCat("\"", outcome, "\"")));
  }
}

}  // namespace
}  // namespace makegood::store
