#include "services/tools/admin/providers.h"

#include <string>
#include <utility>

#include "absl/synchronization/blocking_counter.h"
#include "services/core/secret_file.h"
#include "services/core/status_macros.h"
#include "services/settlement/http/http_provider.h"
#include "services/settlement/sandbox_provider.h"
#include "services/settlement/wallet_provider.h"

namespace makegood::admin {

settlement::PaymentProvider* Providers::Find(absl::string_view name) const {
  if (name == "sandbox") return sandbox.get();
  if (name == "wallet") return wallet.get();
  if (name == "coupon") return coupon.get();
  if (name == "http") return http.get();
  return nullptr;
}

absl::StatusOr<Providers> MakeProviders(BlockingRedis& redis,
                                        const store::KeySchema& keys,
                                        const Options& options) {
  Providers p;
  // Lookups only: latency and faults do not apply to what the books say.
  p.sandbox = std::make_unique<settlement::SandboxProvider>(
      redis.client(), keys, settlement::SandboxOptions{});
  p.wallet = std::make_unique<settlement::WalletProvider>(
      redis.client(), keys, settlement::WalletProvider::Kind::kWallet);
  p.coupon = std::make_unique<settlement::WalletProvider>(
      redis.client(), keys, settlement::WalletProvider::Kind::kCoupon);
  if (!options.http_url.empty()) {
    settlement::HttpProviderOptions http;
    http.base_url = options.http_url;
    MAKEGOOD_ASSIGN_OR_RETURN(http.api_key,
                              ReadSecretFile(options.http_api_key_file));
    http.ca_file = options.http_ca;
    MAKEGOOD_ASSIGN_OR_RETURN(
        p.http, settlement::HttpProvider::Create(std::move(http)));
  }
  return p;
}

std::vector<settlement::PayoutResult> LookupAll(
    settlement::PaymentProvider& provider,
    const std::vector<settlement::PayoutRequest>& requests) {
  struct State {
    explicit State(int n) : left(n) {}
    absl::BlockingCounter left;
    std::vector<settlement::PayoutResult> results;
  };
  if (requests.empty()) return {};
  auto state = std::make_shared<State>(static_cast<int>(requests.size()));
  state->results.resize(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    provider.Lookup(requests[i], [state, i](settlement::PayoutResult r) {
      state->results[i] = std::move(r);
      state->left.DecrementCount();
    });
  }
  state->left.Wait();
  return std::move(state->results);
}

}  // namespace makegood::admin
