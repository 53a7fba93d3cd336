#include "services/population/generator.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/population/config.h"
#include "services/population/rng.h"

namespace makegood::population {
namespace {

google::protobuf::Timestamp ToProto(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

int64_t DrawCount(Rng& rng, const Range& range) {
  return rng.Int(static_cast<int64_t>(std::ceil(range.min())),
                 static_cast<int64_t>(std::floor(range.max())));
}

int Percent(Rng& rng, int lo, int hi) {
  return static_cast<int>(rng.Int(lo, hi));
}

// Who the member is, apart from orders.
v1::Member MakeMember(Rng& rng, const Segment& segment, const std::string& id,
                      absl::Time now) {
  v1::Member member;
  member.set_member_id(id);
  std::vector<double> weights;
  for (const TierWeight& t : segment.tiers()) weights.push_back(t.weight());
  member.set_tier(segment.tiers(static_cast<int>(rng.Pick(weights))).tier());
  const double tenure_days =
      rng.Between(segment.tenure_days().min(), segment.tenure_days().max());
  *member.mutable_member_since() = ToProto(
      now - absl::Seconds(std::llround(tenure_days * 86400)) - absl::Hours(1));
  // Flags in a fixed order: the stored member is compared as sent.
  if (rng.Chance(segment.chargeback_probability())) {
    member.add_flags("chargeback");
  }
  if (rng.Chance(segment.linked_probability())) {
    member.add_flags("linked_to_abuser");
  }
  if (rng.Chance(segment.verified_probability())) member.add_flags("verified");
  return member;
}

// What the ring's accounts share, or the member's own signals.
struct Signals {
  std::string store;
  std::string courier;
  std::string payment_prefix;
};

v1::Order MakeOrder(Rng& rng, const PopulationConfig& config,
                    const Segment& segment, const GenerateOptions& options,
                    const Signals& signals, const std::string& order_id,
                    const std::string& member_id, absl::Time delivered_at) {
  v1::Order order;
  order.set_order_id(order_id);
  order.set_member_id(member_id);
  order.set_store_id(signals.store.empty()
                         ? absl::StrCat("store-", rng.Int(1, 20))
                         : signals.store);
  order.set_courier_id(signals.courier.empty()
                           ? absl::StrCat("courier-", rng.Int(1, 50))
                           : signals.courier);
  order.set_currency(options.currency);
  std::vector<double> weights;
  for (const Product& p : config.catalog()) weights.push_back(p.weight());
  const int64_t lines = DrawCount(rng, segment.lines());
  int64_t goods = 0;
  for (int64_t i = 0; i < lines; ++i) {
    const Product& product =
        config.catalog(static_cast<int>(rng.Pick(weights)));
    const int64_t quantity = DrawCount(rng, segment.quantity());
    auto* line = order.add_lines();
    line->set_line_id(absl::StrCat("l", i + 1));
    line->set_sku(product.sku());
    line->set_category(product.category());
    line->set_quantity(static_cast<int32_t>(quantity));
    line->set_amount_minor(
        Scale(product.price_minor() * quantity, options.scale));
    goods += line->amount_minor();
  }
  const int64_t fee = config.delivery_fee_minor() > 0
                          ? Scale(config.delivery_fee_minor(), options.scale)
                          : 0;
  order.set_delivery_fee_minor(fee);
  order.set_total_minor(goods + fee);
  *order.mutable_delivered_at() = ToProto(delivered_at);
  const bool card = rng.Chance(segment.card_probability());
  order.set_payment_method(card ? v1::PAYMENT_METHOD_CARD
                                : v1::PAYMENT_METHOD_WALLET);
  if (!signals.payment_prefix.empty()) {
    order.set_payment_reference(
        absl::StrCat(signals.payment_prefix, "-", order_id));
  }
  return order;
}

const Product* ProductOf(const PopulationConfig& config,
                         const std::string& sku) {
  for (const Product& p : config.catalog()) {
    if (p.sku() == sku) return &p;
  }
  return nullptr;
}

// One real problem, rated as it felt.
void HonestClaim(Rng& rng, const PopulationConfig& config,
                 const Segment& segment, const v1::Order& order,
                 v1::SubmitRatingRequest& rating) {
  if (rng.Chance(segment.late_probability())) {
    rating.set_satisfaction_percent(Percent(rng, 30, 50));
    rating.add_reasons(v1::REASON_LATE);
    return;
  }
  if (rng.Chance(segment.courier_probability())) {
    rating.set_satisfaction_percent(Percent(rng, 20, 50));
    rating.add_reasons(v1::REASON_COURIER_BEHAVIOUR);
    return;
  }
  const v1::OrderLine& line =
      order.lines(static_cast<int>(rng.Int(0, order.lines_size() - 1)));
  v1::Reason reason = v1::REASON_DAMAGED;
  if (const Product* product = ProductOf(config, line.sku());
      product != nullptr && product->problems_size() > 0) {
    std::vector<double> weights;
    double w = 1;
    for (int i = 0; i < product->problems_size(); ++i, w /= 2) {
      weights.push_back(w);
    }
    (void)v1::Reason_Parse(
        product->problems(static_cast<int>(rng.Pick(weights))), &reason);
  }
  int line_percent = 0;
  switch (reason) {
    case v1::REASON_MISSING_ITEM:
    case v1::REASON_WRONG_ITEM:
      line_percent = 0;
      break;
    case v1::REASON_MELTED_OR_WARM:
      line_percent = Percent(rng, 20, 50);
      break;
    case v1::REASON_POOR_QUALITY:
      line_percent = Percent(rng, 30, 50);
      break;
    default:
      line_percent = Percent(rng, 10, 40);
      break;
  }
  rating.set_satisfaction_percent(Percent(rng, 30, 60));
  auto* rated = rating.add_line_ratings();
  rated->set_line_id(line.line_id());
  rated->set_satisfaction_percent(line_percent);
  rated->add_reasons(reason);
}

// As much as the member thinks they can get.
void BigClaim(Rng& rng, const v1::Order& order,
              v1::SubmitRatingRequest& rating) {
  rating.set_satisfaction_percent(Percent(rng, 0, 10));
  if (rng.Chance(0.5)) {
    rating.add_reasons(rng.Chance(0.5) ? v1::REASON_DAMAGED
                                       : v1::REASON_MISSING_ITEM);
    return;
  }
  std::vector<int> by_amount(static_cast<size_t>(order.lines_size()));
  std::iota(by_amount.begin(), by_amount.end(), 0);
  std::stable_sort(by_amount.begin(), by_amount.end(), [&](int a, int b) {
    return order.lines(a).amount_minor() > order.lines(b).amount_minor();
  });
  const int64_t claimed = std::min<int64_t>(rng.Int(1, 3), order.lines_size());
  std::vector<int> chosen(by_amount.begin(), by_amount.begin() + claimed);
  std::sort(chosen.begin(), chosen.end());
  for (int i : chosen) {
    auto* rated = rating.add_line_ratings();
    rated->set_line_id(order.lines(i).line_id());
    rated->set_satisfaction_percent(0);
    rated->add_reasons(v1::REASON_MISSING_ITEM);
  }
}

std::optional<v1::SubmitRatingRequest> MakeRating(
    Rng& rng, const PopulationConfig& config, const Segment& segment,
    const v1::Order& order) {
  v1::SubmitRatingRequest rating;
  rating.set_idempotency_key(absl::StrCat(order.order_id(), "-rating"));
  rating.set_member_id(order.member_id());
  rating.set_order_id(order.order_id());
  if (rng.Chance(segment.claim_probability())) {
    if (segment.claim_style() == CLAIM_STYLE_BIG) {
      BigClaim(rng, order, rating);
    } else {
      HonestClaim(rng, config, segment, order, rating);
    }
    return rating;
  }
  if (rng.Chance(segment.silent_low_probability())) {
    rating.set_satisfaction_percent(Percent(rng, 20, 45));
    return rating;
  }
  if (!rng.Chance(segment.rate_probability())) return std::nullopt;
  rating.set_satisfaction_percent(Percent(rng, 80, 100));
  return rating;
}

}  // namespace

std::vector<SimMember> Generate(const PopulationConfig& config,
                                const GenerateOptions& options) {
  std::vector<SimMember> members;
  const absl::Time window_end =
      options.now -
      absl::Seconds(std::llround(config.recent_min_hours() * 3600));
  const absl::Time window_start =
      options.now -
      absl::Seconds(std::llround(config.recent_window_hours() * 3600));
  for (const Segment& segment : config.segments()) {
    for (int i = 0; i < segment.members(); ++i) {
      Rng rng =
          Rng::For(options.seed, segment.name(), static_cast<uint64_t>(i));
      // Segment names are [a-z0-9_]: no segment's own stream is this one.
      Rng reorder_rng =
          Rng::For(options.seed, absl::StrCat(segment.name(), "/reorders"),
                   static_cast<uint64_t>(i));
      SimMember sim;
      sim.segment = segment.name();
      sim.group = segment.group();
      const std::string id =
          absl::StrFormat("%s-s%d-%s-%s-%04d", options.prefix, options.seed,
                          options.currency, segment.name(), i);
      sim.member = MakeMember(rng, segment, id, options.now);
      Signals signals;
      if (segment.ring_size() >= 2) {
        const int ring = i / segment.ring_size();
        const std::string ring_id =
            absl::StrFormat("%s-s%d-%s-%s-ring%d", options.prefix, options.seed,
                            options.currency, segment.name(), ring);
        signals = {.store = ring_id + "-store",
                   .courier = ring_id + "-courier",
                   .payment_prefix = ring_id + "-pay"};
      }
      const absl::Time since =
          absl::FromUnixSeconds(sim.member.member_since().seconds());
      // Past orders spread over the membership before the window, at most
      // the last 180 days (the trust model looks back 90).
      const absl::Time past_start =
          std::max(since, window_start - absl::Hours(24 * 180));
      const int64_t past = DrawCount(rng, segment.past_orders());
      std::vector<double> past_offsets;
      if (past_start < window_start) {
        const double span = absl::ToDoubleSeconds(window_start - past_start);
        for (int64_t p = 0; p < past; ++p) {
          past_offsets.push_back(rng.Between(0, span));
        }
        std::sort(past_offsets.begin(), past_offsets.end());
      }
      for (size_t p = 0; p < past_offsets.size(); ++p) {
        sim.past_orders.push_back(MakeOrder(
            rng, config, segment, options, signals,
            absl::StrCat(id, "-p", p + 1), id,
            past_start + absl::Seconds(std::llround(past_offsets[p]))));
      }
      const absl::Time recent_start = std::max(since, window_start);
      const int64_t recent = DrawCount(rng, segment.recent_orders());
      std::vector<double> recent_offsets;
      const double span =
          std::max(0.0, absl::ToDoubleSeconds(window_end - recent_start));
      for (int64_t r = 0; r < recent; ++r) {
        recent_offsets.push_back(rng.Between(0, span));
      }
      std::sort(recent_offsets.begin(), recent_offsets.end());
      for (size_t r = 0; r < recent_offsets.size(); ++r) {
        RecentOrder order;
        order.order = MakeOrder(
            rng, config, segment, options, signals,
            absl::StrCat(id, "-r", r + 1), id,
            recent_start + absl::Seconds(std::llround(recent_offsets[r])));
        order.rating = MakeRating(rng, config, segment, order.order);
        if (order.rating.has_value()) {
          PlannedReorder reorder;
          reorder.draw = {.reorder = reorder_rng.Uniform(),
                          .window = reorder_rng.Uniform(),
                          .day = reorder_rng.Uniform()};
          reorder.order =
              MakeOrder(reorder_rng, config, segment, options, signals,
                        absl::StrCat(id, "-n", r + 1), id, absl::Time());
          reorder.order.clear_delivered_at();
          order.reorder = std::move(reorder);
        }
        sim.recent_orders.push_back(std::move(order));
      }
      members.push_back(std::move(sim));
    }
  }
  return members;
}

}  // namespace makegood::population
