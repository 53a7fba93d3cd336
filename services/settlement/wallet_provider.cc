#include "services/settlement/wallet_provider.h"

#include <utility>

#include "services/settlement/lua/scripts.h"
#include "services/settlement/wallet_pay_script.h"

namespace makegood::settlement {

void WalletProvider::Pay(const PayoutRequest& request,
                         absl::AnyInvocable<void(PayoutResult)> done) {
  Call(WalletPayRequest::Mode::kPay, request, std::move(done));
}

void WalletProvider::Lookup(const PayoutRequest& request,
                            absl::AnyInvocable<void(PayoutResult)> done) {
  Call(WalletPayRequest::Mode::kLookup, request, std::move(done));
}

void WalletProvider::Call(WalletPayRequest::Mode mode,
                          const PayoutRequest& request,
                          absl::AnyInvocable<void(PayoutResult)> done) {
  ScriptCall call = BuildWalletPayCall(
      keys_, WalletPayRequest{.mode = mode,
                              .book = kind_ == Kind::kWallet
                                          ? WalletPayRequest::Book::kWallet
                                          : WalletPayRequest::Book::kCoupon,
                              .member_id = request.member_id,
                              .refund_id = request.refund_id,
                              .currency = request.currency,
                              .amount_minor = request.amount_minor});
  redis_.Eval(scripts::kWalletPay, std::move(call.keys), std::move(call.args),
              [done = std::move(done)](
                  absl::StatusOr<redis::RedisReply> reply) mutable {
                PayoutResult result;
                if (!reply.ok()) {
                  result.outcome = PayoutOutcome::kUnknown;
                  result.reason = "redis_unavailable";
                  done(std::move(result));
                  return;
                }
                absl::StatusOr<WalletPayReply> paid =
                    ParseWalletPayReply(*reply);
                if (!paid.ok()) {
                  // Never guessed: what happened is looked up again.
                  result.outcome = PayoutOutcome::kUnknown;
                  result.reason = "malformed_reply";
                } else if (paid->answer == WalletPayAnswer::kOk) {
                  result.outcome = PayoutOutcome::kSucceeded;
                  result.provider_reference = std::move(paid->reference);
                  result.reason = "credited";
                } else {
                  result.outcome = PayoutOutcome::kNotFound;
                }
                done(std::move(result));
              });
}

}  // namespace makegood::settlement
