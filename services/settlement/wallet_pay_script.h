// File: services/settlement/wallet_pay_script.h
//
// The internal providers' one script (lua/wallet_pay.lua) as a typed call: a
// wallet credit or coupon for a refund, or the look-up of one, becomes the
// script's KEYS and ARGV (BuildWalletPayCall), and its reply one
// WalletPayReply (ParseWalletPayReply). Used by WalletProvider.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "services/redis/redis_reply.h"
#include "services/settlement/script_call.h"
#include "services/store/key_schema.h"

namespace makegood::settlement {

struct WalletPayRequest {
  enum class Mode {
    kPay,     // Credit, once per refund id (again: the first reference).
    kLookup,  // Was it credited? Moves nothing.
  };
  enum class Book { kWallet, kCoupon };

  Mode mode = Mode::kLookup;
  Book book = Book::kWallet;
  std::string member_id;  // Whose wallet (in the member's partition).
  std::string refund_id;  // The idempotency key.
  std::string currency;
  int64_t amount_minor = 0;
};

// KEYS: the member's wallet. ARGV as documented in lua/wallet_pay.lua.
ScriptCall BuildWalletPayCall(const store::KeySchema& keys,
                              const WalletPayRequest& request);

enum class WalletPayAnswer {
  kOk,        // Credited (now or before): `reference` names the credit.
  kNotFound,  // kLookup: never credited.
};

struct WalletPayReply {
  WalletPayAnswer answer = WalletPayAnswer::kNotFound;
  std::string reference;  // kOk.
};

// INTERNAL naming wallet_pay when `reply` is not one of the script's
// answers.
absl::StatusOr<WalletPayReply> ParseWalletPayReply(
    const redis::RedisReply& reply);

}  // namespace makegood::settlement
