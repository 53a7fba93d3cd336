// File: services/tools/loadgen/dataset.h
//
// The members, orders and ratings a load run sends: a pure function of the
// flags (--id_prefix, --seed, --members, --orders_per_member), so a run
// without --setup rates the orders an earlier --setup created.
//
// Thread-safety: Dataset is immutable once configured; Rng is not shared.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "makegood/v1/member.pb.h"
#include "makegood/v1/order.pb.h"
#include "makegood/v1/rating_service.pb.h"

namespace makegood::loadgen {

namespace v1 = ::makegood::v1;

// splitmix64: a tiny, fast, seedable generator. Contents are derived from
// (seed, index) so that --setup and later runs agree without sharing state.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi] (modulo bias is irrelevant here).
  int Uniform(int lo, int hi) {
    return lo + static_cast<int>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }

 private:
  uint64_t state_;
};

inline uint64_t Mix(uint64_t seed, uint64_t stream, uint64_t index) {
  Rng rng(seed ^ (stream * 0xd1b54a32d192ed03ULL) ^
          (index * 0x9e3779b97f4a7c15ULL));
  return rng.Next();
}

// The members, orders and ratings of a run: a pure function of the flags, so
// a run without --setup rates the orders an earlier --setup created.
class Dataset {
 public:
  Dataset(std::string prefix, uint64_t seed, int members, int orders_per_member)
      : prefix_(std::move(prefix)),
        seed_(seed),
        members_(members),
        orders_per_member_(orders_per_member) {}

  // Every member of this tier instead of cycling basic/plus/premium, and
  // every order paid this way instead of by card (the settle mode's data).
  void set_tier(std::string tier) { tier_ = std::move(tier); }
  void set_payment_method(v1::PaymentMethod method) {
    payment_method_ = method;
  }

  int members() const { return members_; }
  int64_t orders() const {
    return static_cast<int64_t>(members_) * orders_per_member_;
  }

  std::string MemberId(int member) const {
    return absl::StrCat(prefix_, "-m", member);
  }
  std::string OrderId(int member, int order) const {
    return absl::StrCat(prefix_, "-o", member, "-", order);
  }

  // Tier cycles basic/plus/premium (unless set_tier); members for 1-5
  // years; verified.
  v1::Member MakeMember(int member, absl::Time now) const {
    static constexpr std::array<const char*, 3> kTiers = {"basic", "plus",
                                                          "premium"};
    v1::Member out;
    out.set_member_id(MemberId(member));
    out.set_tier(tier_.empty() ? kTiers[member % kTiers.size()] : tier_);
    absl::Time since = now - absl::Hours(24 * 365 * (1 + member % 5));
    out.mutable_member_since()->set_seconds(absl::ToUnixSeconds(since));
    out.add_flags("verified");
    return out;
  }

  // Delivered an hour ago, EUR, card (unless set_payment_method); 2-4 lines,
  // the first one frozen.
  v1::Order MakeOrder(int member, int order, absl::Time now) const {
    struct Product {
      const char* sku;
      const char* category;
    };
    static constexpr std::array<Product, 5> kProducts = {{
        {"SOURDOUGH-LOAF", "bakery"},
        {"OAT-MILK-1L", "dairy_alt"},
        {"BANANAS-1KG", "produce"},
        {"PASTA-500G", "pantry"},
        {"COFFEE-BEANS-250G", "pantry"},
    }};
    int64_t index = OrderIndex(member, order);
    Rng rng(Mix(seed_, 1, index));
    int lines = LineCount(index);
    v1::Order out;
    out.set_order_id(OrderId(member, order));
    out.set_member_id(MemberId(member));
    out.set_store_id(absl::StrCat("store-", index % 37));
    out.set_courier_id(absl::StrCat("courier-", index % 101));
    out.set_currency("EUR");
    constexpr int64_t kDeliveryFee = 299;
    int64_t total = kDeliveryFee;
    for (int line = 0; line < lines; ++line) {
      v1::OrderLine* l = out.add_lines();
      l->set_line_id(absl::StrCat("l", line + 1));
      if (line == 0) {
        l->set_sku("ICE-CREAM-VANILLA-500ML");
        l->set_category("frozen");
      } else {
        const Product& p = kProducts[rng.Next() % kProducts.size()];
        l->set_sku(p.sku);
        l->set_category(p.category);
      }
      int quantity = rng.Uniform(1, 3);
      l->set_quantity(quantity);
      l->set_amount_minor(static_cast<int64_t>(quantity) *
                          rng.Uniform(199, 899));
      total += l->amount_minor();
    }
    out.set_delivery_fee_minor(kDeliveryFee);
    out.set_total_minor(total);
    out.mutable_delivered_at()->set_seconds(
        absl::ToUnixSeconds(now - absl::Hours(1)));
    out.set_payment_method(payment_method_);
    return out;
  }

  // Rating of (member, order) pair `pair` (round-robin: members first), with
  // no idempotency key. Satisfaction 0-100; unhappy ratings carry reasons and
  // sometimes line ratings of the order's real lines.
  v1::SubmitRatingRequest MakeRating(int64_t pair) const {
    static constexpr std::array<v1::Reason, 7> kReasons = {
        v1::REASON_DAMAGED,      v1::REASON_MISSING_ITEM,
        v1::REASON_WRONG_ITEM,   v1::REASON_LATE,
        v1::REASON_POOR_QUALITY, v1::REASON_COURIER_BEHAVIOUR,
        v1::REASON_OTHER};
    pair %= orders();
    int member = static_cast<int>(pair % members_);
    int order = static_cast<int>(pair / members_);
    Rng rng(Mix(seed_, 2, pair));
    v1::SubmitRatingRequest out;
    out.set_member_id(MemberId(member));
    out.set_order_id(OrderId(member, order));
    int satisfaction = rng.Uniform(0, 100);
    out.set_satisfaction_percent(satisfaction);
    if (satisfaction < 80) {
      out.add_reasons(v1::REASON_MELTED_OR_WARM);
      if (rng.Uniform(0, 1) == 1) {
        out.add_reasons(kReasons[rng.Next() % kReasons.size()]);
      }
    }
    if (satisfaction < 60) {
      v1::LineRating* frozen = out.add_line_ratings();
      frozen->set_line_id("l1");
      frozen->set_satisfaction_percent(rng.Uniform(0, satisfaction));
      frozen->add_reasons(v1::REASON_MELTED_OR_WARM);
      if (rng.Uniform(0, 2) == 0) {
        v1::LineRating* other = out.add_line_ratings();
        int line = rng.Uniform(2, LineCount(OrderIndex(member, order)));
        other->set_line_id(absl::StrCat("l", line));
        other->set_satisfaction_percent(rng.Uniform(0, 100));
        other->add_reasons(v1::REASON_DAMAGED);
      }
    }
    if (satisfaction < 30) out.set_comment("The ice cream arrived melted.");
    return out;
  }

  // settle: a rating of order `pair` that always moves money for a new
  // premium member: 50 %, melted, the frozen line rated 0 % (refunded in
  // full by the melted rule, the rest along the curve; the member's instant
  // budget caps the amount paid at once).
  v1::SubmitRatingRequest MakeSettleRating(int64_t pair) const {
    pair %= orders();
    int member = static_cast<int>(pair % members_);
    int order = static_cast<int>(pair / members_);
    v1::SubmitRatingRequest out;
    out.set_member_id(MemberId(member));
    out.set_order_id(OrderId(member, order));
    out.set_satisfaction_percent(50);
    out.add_reasons(v1::REASON_MELTED_OR_WARM);
    v1::LineRating* frozen = out.add_line_ratings();
    frozen->set_line_id("l1");
    frozen->set_satisfaction_percent(0);
    frozen->add_reasons(v1::REASON_MELTED_OR_WARM);
    return out;
  }

 private:
  int64_t OrderIndex(int member, int order) const {
    return static_cast<int64_t>(member) * orders_per_member_ + order;
  }
  int LineCount(int64_t order_index) const {
    return 2 + static_cast<int>(Mix(seed_, 3, order_index) % 3);
  }

  std::string prefix_;
  uint64_t seed_;
  int members_;
  int orders_per_member_;
  std::string tier_;  // empty: cycle
  v1::PaymentMethod payment_method_ = v1::PAYMENT_METHOD_CARD;
};

}  // namespace makegood::loadgen
