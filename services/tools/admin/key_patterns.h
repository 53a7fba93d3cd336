// File: services/tools/admin/key_patterns.h
//
// What the admin tool needs of the key schema beyond store::KeySchema's
// methods: SCAN patterns over every partition, the order id of a scanned
// order key, and the follow-up tasks stream. These are the only key
// spellings in the tool; each belongs in KeySchema (see
// services/store/key_schema.h) and moves there when KeySchema has it.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "services/store/key_schema.h"

namespace makegood::admin {

// SCAN MATCH patterns for every partition's refund records (and, since the
// pattern cannot tell them apart, their event streams: filter with
// KeySchema::RefundIdOfKey) and order hashes. One pass over the keyspace
// instead of one per partition. Braces are literal in a pattern.
std::string AllRefundsPattern();
std::string AllOrdersPattern();

// The order id of an order key (KeySchema::OrderKey), or nullopt for any
// other key.
std::optional<std::string> OrderIdOfKey(absl::string_view key);

// The follow-up tasks stream of `partition` (KEYS[11] of settle_finish.lua).
std::string TasksKey(const store::KeySchema& keys, int partition);

}  // namespace makegood::admin
