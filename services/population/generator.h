// File: services/population/generator.h
//
// The simulated members of one seed in one currency: their profiles, the
// orders delivered to them before and inside the rating window, and the
// ratings they send, all drawn from the parameter file with a seeded Rng.
// Same seed, currency, prefix and `now`: the same requests, byte for byte.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "makegood/v1/member.pb.h"
#include "makegood/v1/order.pb.h"
#include "makegood/v1/rating_service.pb.h"
#include "services/population/population.pb.h"
#include "services/population/retention_model.h"

namespace makegood::population {

// What a member does after its troubles if this order's rating is the last
// of them (retention_run.h DecideReorder): the uniforms the decision is
// drawn with, and the order placed if the member orders again. Drawn for
// every rated order from the member's own stream (not the one that draws
// the population, which --retention therefore leaves unchanged), whatever
// the server answers.
struct PlannedReorder {
  ReorderDraw draw;
  // A new basket from the segment's generator, id "<member>-n<k>" after
  // recent order k; delivered_at is set when it is placed.
  v1::Order order;
};

// An order inside the rating window and the member's rating of it, if any.
struct RecentOrder {
  v1::Order order;
  std::optional<v1::SubmitRatingRequest> rating;
  // Set when `rating` is.
  std::optional<PlannedReorder> reorder;
};

struct SimMember {
  std::string segment;
  Group group = GROUP_UNSPECIFIED;
  v1::Member member;
  // Oldest first; recorded, never rated.
  std::vector<v1::Order> past_orders;
  // Oldest first; recorded then rated, one after the other.
  std::vector<RecentOrder> recent_orders;
};

struct GenerateOptions {
  uint64_t seed = 1;
  std::string currency;
  CurrencyScale scale;
  // Prefix of every id, so that runs against one server do not collide.
  std::string prefix = "pop";
  // The server's present: member_since and delivered_at are drawn before it.
  absl::Time now;
};

// Every member of every segment, segment by segment in file order. The
// config must have passed CheckConfig.
std::vector<SimMember> Generate(const PopulationConfig& config,
                                const GenerateOptions& options);

}  // namespace makegood::population
