// File: services/settlement/provider.h
//
// The payment-provider interface the settlement worker pays refunds through.
// Implementations: wallet (credit in Redis, synchronous), sandbox (a simulated
// card processor with configurable latency and faults) and http (a
// Stripe-compatible refunds API over HTTPS).
//
// The refund id is the idempotency key of every call: asking a provider to
// pay the same refund id twice must never move money twice. A provider whose
// answer is lost (timeout after it committed) is asked again with Lookup
// before anything else: an unknown result is reconciled, never guessed.
//
// Example:
//   provider.Pay(request, [](PayoutResult result) {
//     if (result.outcome == PayoutOutcome::kSucceeded) { ... }
//   });
//
// Thread-safety: implementations are thread-safe. Pay and Lookup never block
// the calling thread; `done` runs exactly once, on a thread of the
// provider's choosing, and must not block.
#pragma once

#include <cstdint>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"

namespace makegood::settlement {

struct PayoutRequest {
  // makegood's refund id: the provider's idempotency key.
  std::string refund_id;
  std::string member_id;
  std::string order_id;
  int64_t amount_minor = 0;
  std::string currency;  // ISO 4217, upper case.
  // The order's original payment as the provider knows it (e.g. a payment
  // intent id); empty for wallet credit.
  std::string payment_reference;
};

enum class PayoutOutcome {
  // The provider paid (now or earlier, for this refund id).
  kSucceeded,
  // The provider refused for good (e.g. card closed); nothing was paid.
  kDeclined,
  // Lookup only: the provider has never seen this refund id.
  kNotFound,
  // The provider's answer is unknown (timeout, 5xx, connection lost). Money
  // may or may not have moved: ask again later, never assume.
  kUnknown,
};

absl::string_view PayoutOutcomeName(PayoutOutcome outcome);

struct PayoutResult {
  PayoutOutcome outcome = PayoutOutcome::kUnknown;
  // The provider's own id of the payout when kSucceeded (or kDeclined, when
  // it has one).
  std::string provider_reference;
  // Machine-readable why, e.g. "card_closed", "timeout", "http_503".
  std::string reason;
};

class PaymentProvider {
 public:
  virtual ~PaymentProvider() = default;

  // "wallet", "sandbox", "http".
  virtual absl::string_view name() const = 0;

  // Pays `request` once per refund id: a repeated call for a refund id the
  // provider already paid answers kSucceeded with the same reference and
  // moves no money.
  virtual void Pay(const PayoutRequest& request,
                   absl::AnyInvocable<void(PayoutResult)> done) = 0;

  // What the provider knows of `request.refund_id`, without paying:
  // kSucceeded / kDeclined (its earlier answer), kNotFound (never asked), or
  // kUnknown (it cannot tell now). `request` carries the same fields as the
  // Pay call, for providers that look payouts up by payment.
  virtual void Lookup(const PayoutRequest& request,
                      absl::AnyInvocable<void(PayoutResult)> done) = 0;
};

}  // namespace makegood::settlement
