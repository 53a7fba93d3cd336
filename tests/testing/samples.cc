// File: tests/testing/samples.cc
#include "tests/testing/samples.h"

#include "google/protobuf/util/time_util.h"

namespace makegood::testing {

using google::protobuf::util::TimeUtil;

v1::Member SampleMember(const std::string& member_id, const std::string& tier) {
  v1::Member member;
  member.set_member_id(member_id);
  member.set_tier(tier);
  *member.mutable_member_since() = TimeUtil::SecondsToTimestamp(1609459200);
  member.add_flags("verified");
  return member;
}

v1::Order SampleOrder(const std::string& member_id, const std::string& order_id,
                      absl::Time delivered_at) {
  v1::Order order;
  order.set_order_id(order_id);
  order.set_member_id(member_id);
  order.set_store_id("store-1");
  order.set_courier_id("courier-1");
  order.set_currency("EUR");
  order.set_total_minor(3000);
  order.set_delivery_fee_minor(300);
  auto* ice = order.add_lines();
  ice->set_line_id("l1");
  ice->set_sku("ICE-CREAM");
  ice->set_category("frozen");
  ice->set_quantity(1);
  ice->set_amount_minor(1200);
  auto* bread = order.add_lines();
  bread->set_line_id("l2");
  bread->set_sku("BREAD");
  bread->set_category("bakery");
  bread->set_quantity(1);
  bread->set_amount_minor(1500);
  *order.mutable_delivered_at() =
      TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(delivered_at));
  order.set_payment_method(v1::PAYMENT_METHOD_CARD);
  return order;
}

}  // namespace makegood::testing
