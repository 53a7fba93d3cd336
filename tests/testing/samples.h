// File: tests/testing/samples.h
//
// The member and order most tests rate: a verified premium member since
// 2021, and an order of 3000 EUR paid by card with a frozen line l1 (ice
// cream, 1200) that melts in the stories, a bakery line l2 (1500) and a
// delivery fee of 300.
//
// Example:
//   *request.mutable_order() = SampleOrder("m-1", "o-1", now - absl::Hours(1));
#pragma once

#include <string>

#include "absl/time/time.h"
#include "makegood/v1/member.pb.h"
#include "makegood/v1/order.pb.h"

namespace makegood::testing {

v1::Member SampleMember(const std::string& member_id,
                        const std::string& tier = "premium");

v1::Order SampleOrder(const std::string& member_id, const std::string& order_id,
                      absl::Time delivered_at);

}  // namespace makegood::testing
