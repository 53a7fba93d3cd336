// File: services/redis/key_slot.h
//
// The Redis Cluster hash slot of a key: CRC16 (XMODEM) of the key's hash tag
// (the text between the first '{' and the next '}', if not empty) or else of
// the whole key, mod 16384. Written here because no Debian package offers
// it (hiredis 0.14 has no cluster support); checked against CLUSTER KEYSLOT
// answers in tests/unit/redis/key_slot_test.cc.
#pragma once

#include "absl/strings/string_view.h"

namespace makegood::redis {

inline constexpr int kClusterSlots = 16384;

// 0 <= KeySlot(key) < kClusterSlots.
int KeySlot(absl::string_view key);

}  // namespace makegood::redis
