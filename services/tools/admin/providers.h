// File: services/tools/admin/providers.h
//
// The payment providers the admin tool asks what happened to a refund: the
// sandbox books, wallet and coupon (over the deployment's Redis, as the
// worker has them) and, when configured, the http provider. Lookups only:
// nothing here pays.
//
// Thread-safety: LookupAll blocks its caller; the providers are thread-safe.
#pragma once

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/settlement/provider.h"
#include "services/store/key_schema.h"
#include "services/tools/admin/blocking_redis.h"
#include "services/tools/admin/options.h"

namespace makegood::admin {

// The card, wallet and coupon providers, as the worker has them.
struct Providers {
  std::unique_ptr<settlement::PaymentProvider> sandbox, wallet, coupon, http;

  // The provider a refund records (its `provider` field), or null.
  settlement::PaymentProvider* Find(absl::string_view name) const;
};

// The http provider only with --http_provider_url (and its key file).
absl::StatusOr<Providers> MakeProviders(BlockingRedis& redis,
                                        const store::KeySchema& keys,
                                        const Options& options);

// Asks `provider` about every request at once and waits for all answers.
std::vector<settlement::PayoutResult> LookupAll(
    settlement::PaymentProvider& provider,
    const std::vector<settlement::PayoutRequest>& requests);

}  // namespace makegood::admin
