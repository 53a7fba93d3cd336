#include "services/api/validation.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "makegood/v1/member.pb.h"
#include "makegood/v1/order.pb.h"
#include "makegood/v1/policy.pb.h"
#include "services/core/text.h"
#include "services/errors/errors.h"
#include "services/policy/policy_config.h"
#include "services/policy_file/policy_document.h"
#include "services/policy_proto/policy_convert.h"

namespace makegood::api {
namespace {

using makegood::v1::Member;
using makegood::v1::Order;
using makegood::v1::OrderLine;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A fixed "now": 2023-11-14T22:13:20Z.
const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);
constexpr int64_t k2000 = 946684800;  // 2000-01-01T00:00:00Z

void SetTime(google::protobuf::Timestamp* ts, absl::Time t) {
  ts->set_seconds(absl::ToUnixSeconds(t));
  ts->set_nanos(0);
}

OrderLine* AddLine(Order& order, const std::string& id, int quantity,
                   int64_t amount) {
  OrderLine* line = order.add_lines();
  line->set_line_id(id);
  line->set_sku("SKU 4711/b");
  line->set_category("frozen");
  line->set_quantity(quantity);
  line->set_amount_minor(amount);
  return line;
}

// Lines 1000 + 1300 plus fee 299 add up to the total 2599 exactly.
Order ValidOrder() {
  Order order;
  order.set_order_id("order-1");
  order.set_member_id("member-1");
  order.set_store_id("store-1");
  order.set_courier_id("courier-1");
  order.set_currency("EUR");
  order.set_total_minor(2599);
  order.set_delivery_fee_minor(299);
  AddLine(order, "l0", 2, 1000);
  AddLine(order, "l1", 1, 1300);
  SetTime(order.mutable_delivered_at(), kNow - absl::Hours(1));
  order.set_payment_method(makegood::v1::PAYMENT_METHOD_CARD);
  return order;
}

std::vector<FieldViolation> CheckOrder(const Order& order) {
  Violations violations;
  ValidateOrder("order", order, kNow, violations);
  return violations.list();
}

// The built-in default policy (tiers basic, plus, premium) as a document.
policy_file::PolicySnapshot TestPolicy() {
  makegood::v1::Policy policy =
      policy_proto::FromPolicyConfig(policy::DefaultPolicyConfig());
  absl::StatusOr<policy_file::PolicySnapshot> snapshot =
      policy_file::BuildPolicySnapshot(policy, kNow);
  EXPECT_TRUE(snapshot.ok()) << snapshot.status();
  return *snapshot;
}

Member ValidMember() {
  Member member;
  member.set_member_id("member-1");
  member.set_tier("plus");
  SetTime(member.mutable_member_since(), kNow - absl::Hours(24 * 365));
  member.add_flags("verified");
  member.add_flags("linked_to_abuser");
  return member;
}

std::vector<FieldViolation> CheckMember(const Member& member) {
  Violations violations;
  ValidateMember("member", member, TestPolicy(), kNow, violations);
  return violations.list();
}

// Matches a violation of `field` whose description contains `text`.
::testing::Matcher<FieldViolation> Violation(const std::string& field,
                                             const std::string& text) {
  return AllOf(Field(&FieldViolation::field, field),
               Field(&FieldViolation::description, HasSubstr(text)));
}

// ---- Orders ---------------------------------------------------------------

TEST(ValidateOrder, AcceptsAValidOrder) {
  EXPECT_THAT(CheckOrder(ValidOrder()), IsEmpty());
}

TEST(ValidateOrder, AcceptsAnOrderWithoutCourierOrCategory) {
  Order order = ValidOrder();
  order.clear_courier_id();
  order.mutable_lines(0)->clear_category();
  EXPECT_THAT(CheckOrder(order), IsEmpty());
}

TEST(ValidateOrder, PrefixesEveryPathWithTheGivenField) {
  Order order = ValidOrder();
  order.set_currency("eur");
  Violations violations;
  ValidateOrder("request.order", order, kNow, violations);
  EXPECT_THAT(violations.list(),
              ElementsAre(Violation("request.order.currency", "ISO 4217")));
}

TEST(ValidateOrder, RequiresOrderMemberAndStoreIds) {
  Order order = ValidOrder();
  order.clear_order_id();
  order.clear_member_id();
  order.clear_store_id();
  EXPECT_THAT(CheckOrder(order),
              ElementsAre(Violation("order.order_id", "is required"),
                          Violation("order.member_id", "is required"),
                          Violation("order.store_id", "is required")));
}

TEST(ValidateOrder, RefusesIdsWithCharactersOutsideTheIdAlphabet) {
  Order order = ValidOrder();
  order.set_order_id("order 1");
  order.set_member_id("member{1}");
  order.set_store_id(std::string(makegood::kMaxIdLength + 1, 's'));
  order.set_courier_id("courier/1");
  EXPECT_THAT(
      CheckOrder(order),
      ElementsAre(Violation("order.order_id", "[A-Za-z0-9._:@-]"),
                  Violation("order.member_id", "[A-Za-z0-9._:@-]"),
                  Violation("order.store_id", "must be 1-128 characters"),
                  Violation("order.courier_id", "[A-Za-z0-9._:@-]")));
}

TEST(ValidateOrder, RefusesACurrencyThatIsNotAnIsoCode) {
  for (const char* currency : {"", "eur", "EURO", "E1R"}) {
    Order order = ValidOrder();
    order.set_currency(currency);
    EXPECT_THAT(CheckOrder(order),
                ElementsAre(Violation("order.currency", "ISO 4217")))
        << currency;
  }
}

TEST(ValidateOrder, RefusesANegativeOrHugeTotal) {
  for (int64_t total : {int64_t{-1}, kMaxAmountMinor + 1}) {
    Order order = ValidOrder();
    order.set_total_minor(total);
    EXPECT_THAT(CheckOrder(order),
                ElementsAre(Violation("order.total_minor",
                                      "must be 0-1000000000000 minor units")))
        << total;
  }
}

TEST(ValidateOrder, RefusesANegativeOrHugeDeliveryFee) {
  for (int64_t fee : {int64_t{-1}, kMaxAmountMinor + 1}) {
    Order order = ValidOrder();
    order.set_delivery_fee_minor(fee);
    EXPECT_THAT(CheckOrder(order),
                ElementsAre(Violation("order.delivery_fee_minor",
                                      "must be 0-1000000000000 minor units")))
        << fee;
  }
}

TEST(ValidateOrder, AcceptsTheLargestAmount) {
  Order order = ValidOrder();
  order.set_total_minor(kMaxAmountMinor);
  order.set_delivery_fee_minor(0);
  order.mutable_lines(0)->set_amount_minor(kMaxAmountMinor - 1300);
  EXPECT_THAT(CheckOrder(order), IsEmpty());
}

TEST(ValidateOrder, RequiresAtLeastOneLine) {
  Order order = ValidOrder();
  order.clear_lines();
  EXPECT_THAT(CheckOrder(order),
              ElementsAre(Violation("order.lines", "at least one line")));
}

TEST(ValidateOrder, RefusesMoreThanTheMaximumNumberOfLines) {
  Order order = ValidOrder();
  order.clear_lines();
  for (int i = 0; i < kMaxOrderLines; ++i) {
    AddLine(order, absl::StrCat("l", i), 1, 1);
  }
  EXPECT_THAT(CheckOrder(order), IsEmpty());
  AddLine(order, "one-too-many", 1, 1);
  EXPECT_THAT(CheckOrder(order),
              ElementsAre(Violation("order.lines", "at most 500 lines")));
}

TEST(ValidateOrder, RefusesADuplicateLineIdAtTheRepeatedLine) {
  Order order = ValidOrder();
  AddLine(order, "l0", 1, 0);
  EXPECT_THAT(CheckOrder(order),
              ElementsAre(Violation("order.lines[2].line_id",
                                    "duplicate line_id \"l0\"")));
}

TEST(ValidateOrder, RefusesAMissingOrBadLineId) {
  Order order = ValidOrder();
  order.mutable_lines(0)->clear_line_id();
  order.mutable_lines(1)->set_line_id("line 1");
  EXPECT_THAT(
      CheckOrder(order),
      ElementsAre(Violation("order.lines[0].line_id", "is required"),
                  Violation("order.lines[1].line_id", "[A-Za-z0-9._:@-]")));
}

TEST(ValidateOrder, RefusesAnEmptyLongOrNonPrintableSku) {
  for (const std::string& sku :
       {std::string(), std::string(129, 'x'), std::string("a\nb"),
        std::string("caf\xc3\xa9")}) {
    Order order = ValidOrder();
    order.mutable_lines(1)->set_sku(sku);
    EXPECT_THAT(CheckOrder(order),
                ElementsAre(Violation("order.lines[1].sku",
                                      "1-128 printable ASCII characters")))
        << sku;
  }
  Order longest = ValidOrder();
  longest.mutable_lines(1)->set_sku(std::string(128, 'x'));
  EXPECT_THAT(CheckOrder(longest), IsEmpty());
}

TEST(ValidateOrder, RefusesACategoryOutsideTheTokenAlphabet) {
  for (const std::string& category :
       {std::string("Frozen"), std::string("gift card"),
        std::string(65, 'a')}) {
    Order order = ValidOrder();
    order.mutable_lines(1)->set_category(category);
    EXPECT_THAT(CheckOrder(order),
                ElementsAre(Violation("order.lines[1].category",
                                      "1-64 characters of [a-z0-9_-]")))
        << category;
  }
}

TEST(ValidateOrder, RefusesAQuantityOutsideOneToTenThousand) {
  for (int quantity : {0, -1, kMaxQuantity + 1}) {
    Order order = ValidOrder();
    order.mutable_lines(1)->set_quantity(quantity);
    EXPECT_THAT(
        CheckOrder(order),
        ElementsAre(Violation("order.lines[1].quantity", "must be 1-10000")))
        << quantity;
  }
  Order most = ValidOrder();
  most.mutable_lines(1)->set_quantity(kMaxQuantity);
  EXPECT_THAT(CheckOrder(most), IsEmpty());
}

TEST(ValidateOrder, RefusesANegativeOrHugeLineAmount) {
  for (int64_t amount : {int64_t{-1}, kMaxAmountMinor + 1}) {
    Order order = ValidOrder();
    order.set_total_minor(kMaxAmountMinor);
    order.mutable_lines(0)->set_amount_minor(amount);
    EXPECT_THAT(CheckOrder(order),
                ElementsAre(Violation("order.lines[0].amount_minor",
                                      "must be 0-1000000000000 minor units")))
        << amount;
  }
}

TEST(ValidateOrder, RefusesLinesAndFeeAddingUpToMoreThanTheTotal) {
  Order order = ValidOrder();
  order.set_total_minor(2598);
  EXPECT_THAT(CheckOrder(order),
              ElementsAre(Violation("order.total_minor",
                                    "at least the sum of line amounts plus "
                                    "the delivery fee (2599)")));
}

TEST(ValidateOrder, AcceptsATotalAboveLinesAndFee) {
  Order order = ValidOrder();
  order.set_total_minor(5000);
  EXPECT_THAT(CheckOrder(order), IsEmpty());
}

TEST(ValidateOrder, RequiresDeliveredAt) {
  Order order = ValidOrder();
  order.clear_delivered_at();
  EXPECT_THAT(CheckOrder(order),
              ElementsAre(Violation("order.delivered_at", "is required")));
}

TEST(ValidateOrder, RefusesADeliveryInTheFutureBeyondClockSkew) {
  Order order = ValidOrder();
  SetTime(order.mutable_delivered_at(), kNow + kMaxClockSkew);
  EXPECT_THAT(CheckOrder(order), IsEmpty());
  SetTime(order.mutable_delivered_at(),
          kNow + kMaxClockSkew + absl::Seconds(1));
  EXPECT_THAT(CheckOrder(order),
              ElementsAre(Violation("order.delivered_at",
                                    "must not be in the future")));
}

TEST(ValidateOrder, RefusesADeliveryBefore2000) {
  Order order = ValidOrder();
  order.mutable_delivered_at()->set_seconds(k2000);
  EXPECT_THAT(CheckOrder(order), IsEmpty());
  order.mutable_delivered_at()->set_seconds(k2000 - 1);
  EXPECT_THAT(CheckOrder(order),
              ElementsAre(Violation("order.delivered_at",
                                    "valid time after 2000-01-01")));
}

TEST(ValidateOrder, RefusesAMalformedTimestamp) {
  for (int nanos : {-1, 1'000'000'000}) {
    Order order = ValidOrder();
    order.mutable_delivered_at()->set_nanos(nanos);
    EXPECT_THAT(CheckOrder(order),
                ElementsAre(Violation("order.delivered_at",
                                      "valid time after 2000-01-01")))
        << nanos;
  }
}

TEST(ValidateOrder, RefusesAnUnspecifiedPaymentMethod) {
  Order order = ValidOrder();
  order.set_payment_method(makegood::v1::PAYMENT_METHOD_UNSPECIFIED);
  EXPECT_THAT(
      CheckOrder(order),
      ElementsAre(Violation("order.payment_method",
                            "PAYMENT_METHOD_CARD, PAYMENT_METHOD_WALLET, "
                            "PAYMENT_METHOD_CASH, PAYMENT_METHOD_OTHER")));
}

TEST(ValidateOrder, RefusesAPaymentMethodValueTheEnumDoesNotDefine) {
  // Proto3 enums are open: a newer client can send any number on the wire.
  Order order = ValidOrder();
  order.set_payment_method(static_cast<makegood::v1::PaymentMethod>(99));
  Order from_wire;
  ASSERT_TRUE(from_wire.ParseFromString(order.SerializeAsString()));
  ASSERT_EQ(static_cast<int>(from_wire.payment_method()), 99);
  EXPECT_THAT(CheckOrder(from_wire),
              ElementsAre(Violation("order.payment_method", "must be one of")));
}

TEST(ValidateOrder, AcceptsEveryDefinedPaymentMethod) {
  for (auto method :
       {makegood::v1::PAYMENT_METHOD_CARD, makegood::v1::PAYMENT_METHOD_WALLET,
        makegood::v1::PAYMENT_METHOD_CASH,
        makegood::v1::PAYMENT_METHOD_OTHER}) {
    Order order = ValidOrder();
    order.set_payment_method(method);
    EXPECT_THAT(CheckOrder(order), IsEmpty()) << method;
  }
}

TEST(ValidateOrder, ReportsEveryBadFieldAtOnce) {
  Order order = ValidOrder();
  order.set_currency("");
  order.mutable_lines(1)->set_quantity(0);
  order.clear_delivered_at();
  EXPECT_THAT(CheckOrder(order),
              ElementsAre(Violation("order.currency", ""),
                          Violation("order.lines[1].quantity", ""),
                          Violation("order.delivered_at", "")));
}

// ---- Members --------------------------------------------------------------

TEST(ValidateMember, AcceptsAValidMember) {
  EXPECT_THAT(CheckMember(ValidMember()), IsEmpty());
  Member no_flags = ValidMember();
  no_flags.clear_flags();
  EXPECT_THAT(CheckMember(no_flags), IsEmpty());
}

TEST(ValidateMember, RequiresAValidMemberId) {
  Member member = ValidMember();
  member.clear_member_id();
  EXPECT_THAT(CheckMember(member),
              ElementsAre(Violation("member.member_id", "is required")));
  member.set_member_id("member 1");
  EXPECT_THAT(CheckMember(member),
              ElementsAre(Violation("member.member_id", "[A-Za-z0-9._:@-]")));
}

TEST(ValidateMember, RequiresATier) {
  Member member = ValidMember();
  member.clear_tier();
  EXPECT_THAT(CheckMember(member),
              ElementsAre(Violation("member.tier", "is required")));
}

TEST(ValidateMember, RefusesATierThePolicyDoesNotDefineListingItsTiers) {
  Member member = ValidMember();
  member.set_tier("gold");
  policy_file::PolicySnapshot policy = TestPolicy();
  std::vector<FieldViolation> violations = CheckMember(member);
  EXPECT_THAT(violations,
              ElementsAre(Violation("member.tier", "basic, plus, premium")));
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_THAT(violations[0].description, HasSubstr(policy.version));
  EXPECT_THAT(violations[0].description, HasSubstr("unknown tier"));
}

TEST(ValidateMember, RequiresMemberSince) {
  Member member = ValidMember();
  member.clear_member_since();
  EXPECT_THAT(CheckMember(member),
              ElementsAre(Violation("member.member_since", "is required")));
}

TEST(ValidateMember, RefusesMemberSinceInTheFutureOrBefore2000) {
  Member member = ValidMember();
  SetTime(member.mutable_member_since(), kNow + absl::Hours(1));
  EXPECT_THAT(CheckMember(member),
              ElementsAre(Violation("member.member_since",
                                    "must not be in the future")));
  member.mutable_member_since()->set_seconds(k2000 - 1);
  EXPECT_THAT(CheckMember(member),
              ElementsAre(Violation("member.member_since",
                                    "valid time after 2000-01-01")));
}

TEST(ValidateMember, RefusesAFlagOutsideTheTokenAlphabetAtItsIndex) {
  for (const std::string& flag :
       {std::string("Verified"), std::string(""), std::string("charge back"),
        std::string(65, 'a')}) {
    Member member = ValidMember();
    member.add_flags(flag);
    EXPECT_THAT(CheckMember(member),
                ElementsAre(Violation("member.flags[2]",
                                      "1-64 characters of [a-z0-9_-]")))
        << flag;
  }
}

TEST(ValidateMember, RefusesARepeatedFlagAtTheRepetition) {
  Member member = ValidMember();
  member.add_flags("verified");
  EXPECT_THAT(
      CheckMember(member),
      ElementsAre(Violation("member.flags[2]", "duplicate flag \"verified\"")));
}

TEST(ValidateMember, RefusesMoreThanTheMaximumNumberOfFlags) {
  Member member = ValidMember();
  member.clear_flags();
  for (int i = 0; i < kMaxMemberFlags; ++i) {
    member.add_flags(absl::StrCat("flag_", i));
  }
  EXPECT_THAT(CheckMember(member), IsEmpty());
  member.add_flags("one_too_many");
  EXPECT_THAT(CheckMember(member),
              ElementsAre(Violation("member.flags", "at most 32 flags")));
}

// ---- Ids ------------------------------------------------------------------

TEST(ValidateId, NamesTheFieldItChecks) {
  Violations violations;
  ValidateId("rating.order_id", "ok-id", violations);
  EXPECT_TRUE(violations.empty());
  ValidateId("rating.order_id", "", violations);
  ValidateId("rating.member_id", "a b", violations);
  EXPECT_THAT(violations.list(),
              ElementsAre(Violation("rating.order_id", "is required"),
                          Violation("rating.member_id", "[A-Za-z0-9._:@-]")));
}

}  // namespace
}  // namespace makegood::api
