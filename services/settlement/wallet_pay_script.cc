#include "services/settlement/wallet_pay_script.h"

#include <vector>

#include "absl/strings/str_cat.h"

namespace makegood::settlement {
namespace {

constexpr char kScript[] = "wallet_pay";

}  // namespace

ScriptCall BuildWalletPayCall(const store::KeySchema& keys,
                              const WalletPayRequest& request) {
  ScriptCall call;
  call.keys = {
      keys.WalletKey(keys.PartitionOf(request.member_id), request.member_id)};
  call.args = {
      request.mode == WalletPayRequest::Mode::kPay ? "pay" : "lookup",
      request.book == WalletPayRequest::Book::kCoupon ? "coupon" : "wallet",
      request.refund_id, request.currency, absl::StrCat(request.amount_minor)};
  return call;
}

absl::StatusOr<WalletPayReply> ParseWalletPayReply(
    const redis::RedisReply& reply) {
  auto answer = TaggedReply(reply, 1, kScript);
  if (!answer.ok()) return answer.status();
  const std::vector<redis::RedisReply>& e = **answer;
  const std::string& tag = e[0].str;
  WalletPayReply out;
  if (tag == "NOT_FOUND") {
    out.answer = WalletPayAnswer::kNotFound;
    return out;
  }
  if (tag != "OK") {
    return MalformedReply(kScript,
                          absl::StrCat("unknown answer \"", tag, "\""));
  }
  out.answer = WalletPayAnswer::kOk;
  auto reference = TextAt(e, 1, kScript, "OK reference");
  if (!reference.ok()) return reference.status();
  out.reference = *std::move(reference);
  return out;
}

}  // namespace makegood::settlement
