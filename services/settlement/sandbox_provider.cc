#include "services/settlement/sandbox_provider.h"

#include <random>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/settlement/lua/scripts.h"
#include "services/settlement/sandbox_pay_script.h"

namespace makegood::settlement {
namespace {

absl::Status BadSpec(absl::string_view part, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("sandbox spec: \"", part, "\" ", why));
}

}  // namespace

absl::StatusOr<SandboxOptions> ParseSandboxSpec(absl::string_view spec) {
  SandboxOptions options;
  for (absl::string_view part :
       absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    absl::string_view key = kv.first;
    absl::string_view value = kv.second;
    if (key == "latency" || key == "slow_latency") {
      absl::Duration d;
      if (!absl::ParseDuration(value, &d) || d < absl::ZeroDuration() ||
          d == absl::InfiniteDuration()) {
        return BadSpec(part, "needs a finite duration such as 20ms");
      }
      (key == "latency" ? options.latency : options.slow_latency) = d;
    } else if (key == "decline" || key == "error" || key == "commit_timeout" ||
               key == "slow") {
      double p;
      if (!absl::SimpleAtod(value, &p) || !(p >= 0 && p <= 1)) {  // NaN too.
        return BadSpec(part, "needs a probability between 0 and 1");
      }
      (key == "decline" ? options.decline
       : key == "error" ? options.error
       : key == "slow"  ? options.slow
                        : options.commit_timeout) = p;
    } else if (key == "seed") {
      if (!absl::SimpleAtoi(value, &options.seed)) {
        return BadSpec(part, "needs an unsigned integer");
      }
    } else {
      return BadSpec(part,
                     "is unknown; expected latency, slow_latency, decline, "
                     "error, commit_timeout, slow or seed");
    }
  }
  if (options.decline + options.error + options.commit_timeout + options.slow >
      1) {
    return absl::InvalidArgumentError(
        "sandbox spec: the fault probabilities add up to more than 1");
  }
  return options;
}

SandboxProvider::SandboxProvider(redis::RedisClient& redis,
                                 const store::KeySchema& keys,
                                 SandboxOptions options)
    : redis_(redis), keys_(keys), options_(options) {
  if (options_.seed != 0) {
    seeded_ = std::make_unique<std::mt19937_64>(options_.seed);
  }
}

SandboxProvider::Fault SandboxProvider::Roll() {
  double u;
  {
    absl::MutexLock lock(&mu_);
    u = seeded_ != nullptr
            ? std::uniform_real_distribution<double>(0, 1)(*seeded_)
            : absl::Uniform<double>(random_, 0, 1);
  }
  if ((u -= options_.decline) < 0) return Fault::kDecline;
  if ((u -= options_.error) < 0) return Fault::kError;
  if ((u -= options_.commit_timeout) < 0) return Fault::kCommitTimeout;
  if ((u -= options_.slow) < 0) return Fault::kSlow;
  return Fault::kNone;
}

void SandboxProvider::After(absl::Duration delay,
                            absl::AnyInvocable<void()> task) {
  if (delay <= absl::ZeroDuration()) {
    task();
  } else {
    delays_.RunAfter(delay, std::move(task));
  }
}

void SandboxProvider::Pay(const PayoutRequest& request,
                          absl::AnyInvocable<void(PayoutResult)> done) {
  Fault fault = Roll();
  absl::Duration latency =
      fault == Fault::kSlow ? options_.slow_latency : options_.latency;
  if (fault == Fault::kError) {
    After(latency, [done = std::move(done)]() mutable {
      done(PayoutResult{PayoutOutcome::kUnknown, "", "http_503"});
    });
    return;
  }
  After(latency, [this, fault, request, done = std::move(done)]() mutable {
    Books(fault == Fault::kDecline ? SandboxPayRequest::Mode::kDecline
                                   : SandboxPayRequest::Mode::kPay,
          request,
          [fault, done = std::move(done)](PayoutResult result) mutable {
            if (fault == Fault::kCommitTimeout) {
              // The processor paid; its answer never arrives.
              result = PayoutResult{PayoutOutcome::kUnknown, "", "timeout"};
            }
            done(std::move(result));
          });
  });
}

void SandboxProvider::Lookup(const PayoutRequest& request,
                             absl::AnyInvocable<void(PayoutResult)> done) {
  After(options_.latency, [this, request, done = std::move(done)]() mutable {
    Books(SandboxPayRequest::Mode::kLookup, request, std::move(done));
  });
}

void SandboxProvider::Books(SandboxPayRequest::Mode mode,
                            const PayoutRequest& request,
                            absl::AnyInvocable<void(PayoutResult)> done) {
  ScriptCall call = BuildSandboxPayCall(
      keys_,
      SandboxPayRequest{.mode = mode,
                        .member_id = request.member_id,
                        .refund_id = request.refund_id,
                        .amount_minor = request.amount_minor,
                        .reference = absl::StrCat("sbx_re_", request.refund_id),
                        .decline_reason = "card_declined"});
  redis_.Eval(scripts::kSandboxPay, std::move(call.keys), std::move(call.args),
              [done = std::move(done)](
                  absl::StatusOr<redis::RedisReply> reply) mutable {
                PayoutResult result;
                if (!reply.ok()) {
                  result.reason = "unreachable";
                  done(std::move(result));
                  return;
                }
                absl::StatusOr<SandboxPayReply> books =
                    ParseSandboxPayReply(*reply);
                if (!books.ok()) {
                  result.reason = "malformed_reply";  // Unknown: never guessed.
                } else if (books->answer == SandboxPayAnswer::kSucceeded) {
                  result.outcome = PayoutOutcome::kSucceeded;
                  result.provider_reference = std::move(books->reference);
                  result.reason = "paid";
                } else if (books->answer == SandboxPayAnswer::kDeclined) {
                  result.outcome = PayoutOutcome::kDeclined;
                  result.reason = std::move(books->decline_reason);
                } else {
                  result.outcome = PayoutOutcome::kNotFound;
                }
                done(std::move(result));
              });
}

}  // namespace makegood::settlement
