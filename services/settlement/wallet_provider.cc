#include "services/settlement/wallet_provider.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "services/store/lua/scripts.h"

namespace makegood::settlement {

void WalletProvider::Pay(const PayoutRequest& request,
                         absl::AnyInvocable<void(PayoutResult)> done) {
  Call("pay", request, std::move(done));
}

void WalletProvider::Lookup(const PayoutRequest& request,
                            absl::AnyInvocable<void(PayoutResult)> done) {
  Call("lookup", request, std::move(done));
}

void WalletProvider::Call(const char* mode, const PayoutRequest& request,
                          absl::AnyInvocable<void(PayoutResult)> done) {
  int partition = keys_.PartitionOf(request.member_id);
  redis_.Eval(store::scripts::kWalletPay,
              {keys_.WalletKey(partition, request.member_id)},
              {mode, std::string(name()), request.refund_id, request.currency,
               absl::StrCat(request.amount_minor)},
              [done = std::move(done)](
                  absl::StatusOr<redis::RedisReply> reply) mutable {
                PayoutResult result;
                if (!reply.ok() || reply->elements.empty()) {
                  result.outcome = PayoutOutcome::kUnknown;
                  result.reason = "redis_unavailable";
                } else if (reply->elements[0].str == "OK" &&
                           reply->elements.size() >= 2) {
                  result.outcome = PayoutOutcome::kSucceeded;
                  result.provider_reference = reply->elements[1].str;
                  result.reason = "credited";
                } else {
                  result.outcome = PayoutOutcome::kNotFound;
                }
                done(std::move(result));
              });
}

}  // namespace makegood::settlement
