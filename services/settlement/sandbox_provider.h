// File: services/settlement/sandbox_provider.h
//
// A simulated card processor for development, tests and benchmarks, with
// configurable latency and faults. Its books live in Redis
// (mg:{p<N>}:psp:sandbox, see sandbox_pay.lua) so they outlive any makegood
// process — a worker killed mid-payout finds the processor's record when it
// looks the payout up, exactly as with a real processor — and count how many
// times money moved per refund id, which the money check verifies is one.
//
// Faults, each rolled per Pay call with its probability:
//   decline         the processor refuses for good (kDeclined "card_declined")
//   error           a 5xx before anything happens (kUnknown "http_503")
//   commit_timeout  the payout is made, then the answer is lost
//                   (kUnknown "timeout")
//   slow            the answer takes `slow_latency` instead of `latency`
// Lookup never fails: it answers what the books say.
//
// Spec string (flag --sandbox): comma-separated key=value, e.g.
//   "latency=20ms,decline=0.05,error=0.02,commit_timeout=0.02,slow=0.01,
//    slow_latency=2s,seed=7"
//
// Thread-safety: thread-safe; callbacks run on the Redis I/O thread or the
// delay thread.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>

#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/redis/redis_client.h"
#include "services/settlement/delay_queue.h"
#include "services/settlement/provider.h"
#include "services/settlement/sandbox_pay_script.h"
#include "services/store/key_schema.h"

namespace makegood::settlement {

struct SandboxOptions {
  absl::Duration latency = absl::ZeroDuration();
  absl::Duration slow_latency = absl::Seconds(2);
  double decline = 0;
  double error = 0;
  double commit_timeout = 0;
  double slow = 0;
  uint64_t seed = 0;  // 0: random.
};

// Parses a spec string (see above). INVALID_ARGUMENT naming the bad part.
absl::StatusOr<SandboxOptions> ParseSandboxSpec(absl::string_view spec);

class SandboxProvider final : public PaymentProvider {
 public:
  // Does not take ownership; both must outlive the provider.
  SandboxProvider(redis::RedisClient& redis, const store::KeySchema& keys,
                  SandboxOptions options);

  absl::string_view name() const override { return "sandbox"; }
  void Pay(const PayoutRequest& request,
           absl::AnyInvocable<void(PayoutResult)> done) override;
  void Lookup(const PayoutRequest& request,
              absl::AnyInvocable<void(PayoutResult)> done) override;

 private:
  enum class Fault { kNone, kDecline, kError, kCommitTimeout, kSlow };
  Fault Roll();
  void Books(SandboxPayRequest::Mode mode, const PayoutRequest& request,
             absl::AnyInvocable<void(PayoutResult)> done);
  void After(absl::Duration delay, absl::AnyInvocable<void()> task);

  redis::RedisClient& redis_;
  const store::KeySchema& keys_;
  const SandboxOptions options_;
  absl::Mutex mu_;
  absl::BitGen random_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<std::mt19937_64> seeded_ ABSL_GUARDED_BY(mu_);
  DelayQueue delays_;
};

}  // namespace makegood::settlement
