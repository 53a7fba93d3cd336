// File: services/rating/script_call.h
//
// What one call of a SubmitRating script sends, and the checks its reply
// parsers share. The builders beside each script (admit_script.h,
// commit_script.h, release_script.h, rate_limit_script.h) produce a
// ScriptCall, so no key or argument position is spelled anywhere else; their
// parsers report a reply of the wrong shape as INTERNAL naming the script.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/redis/redis_reply.h"

namespace makegood::rating {

struct ScriptCall {
  std::vector<std::string> keys;  // KEYS, every one from store::KeySchema.
  std::vector<std::string> args;  // ARGV.
};

// INTERNAL: "malformed <script> reply: <problem>".
absl::Status MalformedReply(absl::string_view script,
                            absl::string_view problem);

// The elements of an array reply with at least `min_size` elements whose
// first is a text tag, else MalformedReply.
absl::StatusOr<const std::vector<redis::RedisReply>*> TaggedReply(
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

}  // namespace makegood::rating
