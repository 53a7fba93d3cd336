// File: services/redis/redis_reply.h
//
// An owned copy of a Redis reply. hiredis frees its reply objects when the
// reply callback returns, so the client converts them into this value type
// before handing them to user callbacks on any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace makegood::redis {

struct RedisReply {
  enum class Type {
    kNil,
    kInteger,
    kString,  // Bulk string.
    kStatus,  // Simple string such as "OK".
    kArray,
    kError,  // Only nested inside arrays; a top-level error is a Status.
  };

  Type type = Type::kNil;
  int64_t integer = 0;
  std::string str;  // kString, kStatus and kError.
  std::vector<RedisReply> elements;

  bool is_nil() const { return type == Type::kNil; }
  bool is_text() const {
    return type == Type::kString || type == Type::kStatus;
  }

  static RedisReply Nil() { return RedisReply(); }
  static RedisReply Integer(int64_t v);
  static RedisReply String(std::string s);
  static RedisReply Status(std::string s);
  static RedisReply Array(std::vector<RedisReply> elements);
};

// Typed accessors for replies whose shape a script or command guarantees.
// They return INTERNAL naming `what` when the reply does not have that shape,
// so a malformed reply is reported, never asserted.
absl::StatusOr<std::string> ReplyText(const RedisReply& reply,
                                      absl::string_view what);
absl::StatusOr<int64_t> ReplyInteger(const RedisReply& reply,
                                     absl::string_view what);
// Requires an array with at least `min_size` elements.
absl::StatusOr<const std::vector<RedisReply>*> ReplyArray(
    const RedisReply& reply, size_t min_size, absl::string_view what);

}  // namespace makegood::redis
