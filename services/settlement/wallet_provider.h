// File: services/settlement/wallet_provider.h
//
// The internal providers: wallet credit and coupons, kept in Redis in the
// member's partition (mg:{p<N>}:wallet:<member_id>, see wallet.lua). Settled
// synchronously — one script — so this is the seconds path. Crediting the same
// refund id again moves nothing.
//
// Thread-safety: thread-safe; callbacks run on the Redis I/O thread.
#pragma once

#include <string>

#include "services/redis/redis_client.h"
#include "services/settlement/provider.h"
#include "services/settlement/wallet_pay_script.h"
#include "services/store/key_schema.h"

namespace makegood::settlement {

class WalletProvider final : public PaymentProvider {
 public:
  enum class Kind { kWallet, kCoupon };

  // Does not take ownership; both must outlive the provider.
  WalletProvider(redis::RedisClient& redis, const store::KeySchema& keys,
                 Kind kind)
      : redis_(redis), keys_(keys), kind_(kind) {}

  absl::string_view name() const override {
    return kind_ == Kind::kWallet ? "wallet" : "coupon";
  }
  void Pay(const PayoutRequest& request,
           absl::AnyInvocable<void(PayoutResult)> done) override;
  void Lookup(const PayoutRequest& request,
              absl::AnyInvocable<void(PayoutResult)> done) override;

 private:
  void Call(WalletPayRequest::Mode mode, const PayoutRequest& request,
            absl::AnyInvocable<void(PayoutResult)> done);

  redis::RedisClient& redis_;
  const store::KeySchema& keys_;
  const Kind kind_;
};

}  // namespace makegood::settlement
