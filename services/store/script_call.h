// File: services/store/script_call.h
//
// What one call of a store script sends, and the checks its reply parsers
// share. Each script of services/store/lua (and of the domains that build on
// the store, such as insights) has a typed call beside it,
// <script>_script.h: a request struct whose Build... function produces a
// ScriptCall, every key from KeySchema, and a Parse... function reading its
// reply. No key, argument or reply position is spelled anywhere else. A
// reply of the wrong shape is INTERNAL naming the script, never a crash.
//
// Example:
//   ScriptCall call = BuildUpsertMemberCall(keys, request);
//   redis.Eval(scripts::kUpsertMember, std::move(call.keys),
//              std::move(call.args), [](absl::StatusOr<RedisReply> r) {
//                if (!r.ok()) ...;
//                absl::StatusOr<UpsertMemberReply> upsert =
//                    ParseUpsertMemberReply(*r);
//              });
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/redis/redis_reply.h"

namespace makegood::store {

struct ScriptCall {
  std::vector<std::string> keys;  // KEYS, every one from KeySchema.
  std::vector<std::string> args;  // ARGV.
};

// INTERNAL: "malformed <script> reply: <problem>".
absl::Status MalformedReply(absl::string_view script,
                            absl::string_view problem);

// The elements of an array reply with at least max(min_size, 1) elements
// whose first is a text tag, else MalformedReply.
absl::StatusOr<const std::vector<redis::RedisReply>*> TaggedReply(
    const redis::RedisReply& reply, size_t min_size, absl::string_view script);

// The elements of an array reply with at least `min_size` elements, else
// MalformedReply.
absl::StatusOr<const std::vector<redis::RedisReply>*> ArrayReply(
    const redis::RedisReply& reply, size_t min_size, absl::string_view script);

// Element `index` of `elements` as an integer (or integer text), else
// MalformedReply naming `field`.
absl::StatusOr<int64_t> IntegerAt(
    const std::vector<redis::RedisReply>& elements, size_t index,
    absl::string_view script, absl::string_view field);

// Element `index` as text, else MalformedReply naming `field`.
absl::StatusOr<std::string> TextAt(
    const std::vector<redis::RedisReply>& elements, size_t index,
    absl::string_view script, absl::string_view field);

// One entry of an index (a sorted set) as a listing's first step reads it.
struct IndexEntry {
  std::string id;     // The member: a record's id.
  std::string score;  // As Redis answers it (text), e.g. "1780272000123".
};

// The (id, score) text pairs `elements[first..]`, else MalformedReply (an odd
// count, or an element that is not text).
absl::StatusOr<std::vector<IndexEntry>> IndexEntriesFrom(
    const std::vector<redis::RedisReply>& elements, size_t first,
    absl::string_view script);

// IndexEntriesFrom the elements of an array reply (e.g. ZRANGE ...
// WITHSCORES), else MalformedReply.
absl::StatusOr<std::vector<IndexEntry>> IndexEntriesOf(
    const redis::RedisReply& reply, absl::string_view script);

// "1" or "0", as the scripts read flags.
inline const char* Flag(bool value) { return value ? "1" : "0"; }

}  // namespace makegood::store
