// File: services/settlement/http/http_provider.h
//
// A PaymentProvider that pays refunds through a Stripe-compatible refunds API
// over HTTPS:
//   Pay     POST {base_url}/v1/refunds (form-encoded), with header
//           "Idempotency-Key: <refund_id>", so a repeated Pay for the same
//           refund id is answered from the provider's idempotency store and
//           moves no money twice. Only payment_intent, amount, currency and
//           metadata[makegood_refund_id] / metadata[order_id] are sent: the
//           member id (personal data) never leaves makegood.
//   Lookup  GET {base_url}/v1/refunds?payment_intent=...&limit=100 (following
//           has_more pages), matching metadata.makegood_refund_id. Read-only.
//
// Answers map to outcomes by what the caller may safely do next:
//   kSucceeded  2xx refund with status "succeeded" (reference = refund id);
//   kDeclined   2xx refund "failed"/"canceled" (reason = failure_reason),
//               HTTP 402, or HTTP 400 with error.type "card_error" (reason =
//               error.decline_code, else error.code, else "declined");
//               also, without any network call, requests that can never be
//               paid here: "invalid_refund_id" (empty, over 255 chars or
//               not printable ASCII), "missing_payment_reference",
//               "invalid_amount" (<= 0), "invalid_currency" (not 3
//               letters); Lookup answers kNotFound for those;
//   kUnknown    everything else, which may or may not have moved money or
//               means "ask again later": "pending" (refund pending or
//               requires_action), "http_<code>" (401/403 are
//               misconfiguration, never a decline; 409, 429, 5xx, other 4xx),
//               "idempotency_mismatch" (400 idempotency_error), "timeout",
//               "connect", "tls", "connection_lost", "bad_response"
//               (unparsable or unexpected body), "shutdown",
//               "too_many_refunds" (Lookup gave up after 20 pages),
//               "client_error" (libcurl could not set up the transfer).
//   kNotFound   Lookup only: no refund carries this refund id.
//
// Stripe prunes idempotency keys after 24 hours: a Pay retried later than
// that could pay again. Callers must Lookup before re-paying a refund whose
// earlier Pay ended kUnknown (as provider.h requires of every caller).
//
// Concurrency: one dedicated thread drives all transfers with the libcurl
// multi interface (connections are reused across calls). At most
// `max_in_flight` transfers run at once; further calls wait in a FIFO queue
// (they are never refused), and their request_timeout starts only when their
// transfer starts. The settlement worker bounds how much it submits.
//
// Example:
//   HttpProviderOptions options;
//   options.base_url = "https://api.stripe.com";
//   options.api_key = key_from_secret_store;
//   auto provider = HttpProvider::Create(options);
//   if (!provider.ok()) return provider.status();
//   (*provider)->Pay(request, [](PayoutResult result) { ... });
//
// Thread-safety: Pay and Lookup are thread-safe and never block. `done`
// runs exactly once, on the provider's thread, and must not block; it may
// call Pay or Lookup again. The destructor must not run concurrently with
// Pay/Lookup nor from a `done` callback.
#pragma once

#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/settlement/provider.h"

namespace makegood::settlement {

struct HttpProviderOptions {
  // "https://host[:port]" (optionally with a path prefix); no trailing slash
  // needed. Plain http is refused: the API key travels in every request.
  std::string base_url;
  // Sent as "Authorization: Bearer <api_key>". Required.
  std::string api_key;
  // PEM bundle of CAs that verify the server; empty = the system CAs.
  std::string ca_file;
  absl::Duration connect_timeout = absl::Seconds(3);
  // Whole request, connect included. A Pay that times out is kUnknown.
  absl::Duration request_timeout = absl::Seconds(10);
  // Transfers running at once; more wait in the provider's queue.
  int max_in_flight = 16;
};

class HttpProvider final : public PaymentProvider {
 public:
  // Validates `options` (INVALID_ARGUMENT naming the field) and starts the
  // I/O thread. Does not contact the server.
  static absl::StatusOr<std::unique_ptr<HttpProvider>> Create(
      HttpProviderOptions options);

  // Stops the I/O thread; transfers running or queued complete with
  // kUnknown "shutdown" (a running Pay may still have reached the server).
  ~HttpProvider() override;

  HttpProvider(const HttpProvider&) = delete;
  HttpProvider& operator=(const HttpProvider&) = delete;

  absl::string_view name() const override { return "http"; }

  void Pay(const PayoutRequest& request,
           absl::AnyInvocable<void(PayoutResult)> done) override;

  void Lookup(const PayoutRequest& request,
              absl::AnyInvocable<void(PayoutResult)> done) override;

 private:
  class Engine;

  explicit HttpProvider(std::unique_ptr<Engine> engine);

  std::unique_ptr<Engine> engine_;
};

}  // namespace makegood::settlement
