// File: services/settlement/script_call.h
//
// What one call of a settlement script sends, and the checks its reply
// parsers share. The builders beside each script (settle_begin_script.h,
// settle_finish_script.h, wallet_pay_script.h, sandbox_pay_script.h,
// reconcile_script.h) produce a ScriptCall, so no key or argument position is
// spelled anywhere else; their parsers report a reply of the wrong shape as
// INTERNAL naming the script.
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/redis/redis_reply.h"

namespace makegood::settlement {

struct ScriptCall {
  std::vector<std::string> keys;  // KEYS, every one from store::KeySchema.
  std::vector<std::string> args;  // ARGV.
};

// INTERNAL: "malformed <script> reply: <problem>".
absl::Status MalformedReply(absl::string_view script,
                            absl::string_view problem);

// The elements of an array reply whose first element is a text answer (the
// script's tag), else MalformedReply.
absl::StatusOr<const std::vector<redis::RedisReply>*> AnswerOf(
    const redis::RedisReply& reply, absl::string_view script);

// Element `index` as text, else MalformedReply naming `field`.
absl::StatusOr<std::string> TextAt(
    const std::vector<redis::RedisReply>& elements, size_t index,
    absl::string_view script, absl::string_view field);

// Element `index` as an integer (or integer text), else MalformedReply naming
// `field`.
absl::StatusOr<int64_t> IntegerAt(
    const std::vector<redis::RedisReply>& elements, size_t index,
    absl::string_view script, absl::string_view field);

}  // namespace makegood::settlement
