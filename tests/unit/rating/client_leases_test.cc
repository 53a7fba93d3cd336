// ClientLeases: a replica's batches of its clients' rate-limit cells.
#include "services/rating/client_leases.h"

#include <cstdint>
#include <random>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace makegood::rating {
namespace {

LimitSpec Spec(double rate, int64_t burst, bool shadow = false) {
  return LimitSpec{.rate_per_second = rate, .burst = burst, .shadow = shadow};
}

RateLimitReply Granted(int64_t granted, int64_t remaining) {
  return RateLimitReply{.allowed = true,
                        .would_reject = false,
                        .remaining = remaining,
                        .retry_after_ms = 0,
                        .reset_ms = 100,
                        .granted = granted};
}

RateLimitReply Refused() {
  return RateLimitReply{.allowed = false,
                        .would_reject = true,
                        .remaining = 0,
                        .retry_after_ms = 500,
                        .reset_ms = 2000,
                        .granted = 0};
}

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

TEST(ClientLeasesTest, LeaseSizeIsFiftyMillisecondsCappedByAQuarterBurst) {
  EXPECT_EQ(ClientLeases::LeaseSize(Spec(2000, 4000)), 100);
  EXPECT_EQ(ClientLeases::LeaseSize(Spec(2000, 200)), 50);
  EXPECT_EQ(ClientLeases::LeaseSize(Spec(60, 60)), 3);
  // Small bursts and shadow limits are exact: one cell at a time.
  EXPECT_EQ(ClientLeases::LeaseSize(Spec(1.0 / 3600, 3)), 1);
  EXPECT_EQ(ClientLeases::LeaseSize(Spec(1, 1)), 1);
  EXPECT_EQ(ClientLeases::LeaseSize(Spec(2000, 4000, /*shadow=*/true)), 1);
  EXPECT_EQ(ClientLeases::LeaseSize(Spec(1e6, 1'000'000)), 50'000);
}

TEST(ClientLeasesTest, ALeaseIsHandedOutLocallyUntilItRunsOut) {
  ClientLeases leases;
  const LimitSpec spec = Spec(2000, 4000);
  EXPECT_FALSE(leases.TryTake("app", kT0).has_value());
  ASSERT_EQ(leases.BeginLease("app", spec), 100);
  RateLimitReply first = leases.OnLeased("app", Granted(100, 3900), kT0);
  EXPECT_TRUE(first.allowed);
  EXPECT_EQ(first.remaining, 3999);  // 3900 in Redis + 99 held here.
  for (int i = 0; i < 99; ++i) {
    auto taken = leases.TryTake("app", kT0 + absl::Milliseconds(i));
    ASSERT_TRUE(taken.has_value()) << i;
    EXPECT_TRUE(taken->allowed);
    EXPECT_EQ(taken->remaining, 3900 + 98 - i);
  }
  EXPECT_FALSE(leases.TryTake("app", kT0).has_value());
  // Another client has nothing leased.
  EXPECT_FALSE(leases.TryTake("other", kT0).has_value());
}

TEST(ClientLeasesTest, UnusedCellsLapse) {
  ClientLeases leases(absl::Seconds(1));
  const LimitSpec spec = Spec(2000, 4000);
  leases.BeginLease("app", spec);
  leases.OnLeased("app", Granted(100, 3900), kT0);
  EXPECT_EQ(leases.CellsHeld("app", kT0), 99);
  EXPECT_TRUE(leases.TryTake("app", kT0 + absl::Seconds(1)).has_value());
  EXPECT_FALSE(
      leases.TryTake("app", kT0 + absl::Seconds(1) + absl::Milliseconds(1))
          .has_value());
  EXPECT_EQ(leases.CellsHeld("app", kT0 + absl::Seconds(2)), 0);
}

TEST(ClientLeasesTest, ConcurrentLeasesAskForOneCellAndShareWhatLands) {
  ClientLeases leases;
  const LimitSpec spec = Spec(2000, 4000);
  EXPECT_EQ(leases.BeginLease("app", spec), 100);
  EXPECT_EQ(leases.BeginLease("app", spec), 1);
  EXPECT_EQ(leases.BeginLease("app", spec), 1);
  // The batch lands; the two single-cell leases are refused by Redis (the
  // client is at its limit) but are served from the batch.
  EXPECT_TRUE(leases.OnLeased("app", Granted(100, 0), kT0).allowed);
  RateLimitReply second = leases.OnLeased("app", Refused(), kT0);
  EXPECT_TRUE(second.allowed);
  EXPECT_FALSE(second.would_reject);
  EXPECT_TRUE(leases.OnLeased("app", Refused(), kT0).allowed);
  EXPECT_EQ(leases.CellsHeld("app", kT0), 97);
  // Nothing in flight any more: the next lease is a batch again.
  EXPECT_EQ(leases.BeginLease("app", spec), 100);
  leases.OnLeaseFailed("app");
  EXPECT_EQ(leases.BeginLease("app", spec), 100);
}

TEST(ClientLeasesTest, ARefusalWithNothingHeldIsARefusal) {
  ClientLeases leases;
  leases.BeginLease("app", Spec(1, 1));
  RateLimitReply refused = leases.OnLeased("app", Refused(), kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_ms, 500);
}

// The fleet-wide bound, simulated: replicas leasing from one GCRA bucket
// (the script's arithmetic) never let through more than the bucket allows,
// and refuse no more than one lease per replica early.
TEST(ClientLeasesTest, ReplicasNeverAdmitMoreThanTheLimit) {
  std::mt19937_64 rng(7);
  const LimitSpec spec = Spec(100, 200);  // Lease size 5.
  const double interval = spec.interval_ms();
  std::vector<ClientLeases> replicas(4);
  double tat = 0;
  int64_t admitted = 0;
  absl::Time now = kT0;
  const int kRequests = 20000;
  for (int i = 0; i < kRequests; ++i) {
    now += absl::Microseconds(std::uniform_int_distribution<int>(0, 4000)(rng));
    const double now_ms = absl::ToDoubleMilliseconds(now - kT0);
    ClientLeases& replica = replicas[rng() % replicas.size()];
    if (replica.TryTake("app", now).has_value()) {
      ++admitted;
      continue;
    }
    const int64_t cells = replica.BeginLease("app", spec);
    // rate_limit.lua's GCRA, cells at once.
    double t = std::max(tat, now_ms);
    const int64_t fit =
        static_cast<int64_t>(std::floor((now_ms - t) / interval + spec.burst));
    RateLimitReply reply = Refused();
    if (fit >= 1) {
      const int64_t granted = std::min(cells, fit);
      tat = t + interval * granted;
      reply = Granted(granted, 0);
    }
    if (replica.OnLeased("app", reply, now).allowed) ++admitted;
  }
  const double elapsed_s = absl::ToDoubleSeconds(now - kT0);
  // Never above the limit: the burst plus the sustained rate.
  EXPECT_LE(admitted, spec.burst + spec.rate_per_second * elapsed_s + 1);
  // Offered ~1000/s against 100/s: the limit is used, not wasted, save at
  // most one lapsed lease per replica per lifetime.
  EXPECT_GE(admitted, spec.rate_per_second * elapsed_s * 0.75);
}

}  // namespace
}  // namespace makegood::rating
