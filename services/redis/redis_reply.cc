#include "services/redis/redis_reply.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace makegood::redis {

RedisReply RedisReply::Integer(int64_t v) {
  RedisReply r;
  r.type = Type::kInteger;
  r.integer = v;
  return r;
}

RedisReply RedisReply::String(std::string s) {
  RedisReply r;
  r.type = Type::kString;
  r.str = std::move(s);
  return r;
}

RedisReply RedisReply::Status(std::string s) {
  RedisReply r;
  r.type = Type::kStatus;
  r.str = std::move(s);
  return r;
}

RedisReply RedisReply::Array(std::vector<RedisReply> elements) {
  RedisReply r;
  r.type = Type::kArray;
  r.elements = std::move(elements);
  return r;
}

absl::StatusOr<std::string> ReplyText(const RedisReply& reply,
                                      absl::string_view what) {
  if (!reply.is_text()) {
    return absl::InternalError(
        absl::StrCat("redis reply for ", what, " is not text"));
  }
  return reply.str;
}

absl::StatusOr<int64_t> ReplyInteger(const RedisReply& reply,
                                     absl::string_view what) {
  if (reply.type == RedisReply::Type::kInteger) return reply.integer;
  int64_t value = 0;
  if (reply.is_text() && absl::SimpleAtoi(reply.str, &value)) return value;
  return absl::InternalError(
      absl::StrCat("redis reply for ", what, " is not an integer"));
}

absl::StatusOr<const std::vector<RedisReply>*> ReplyArray(
    const RedisReply& reply, size_t min_size, absl::string_view what) {
  if (reply.type != RedisReply::Type::kArray ||
      reply.elements.size() < min_size) {
    return absl::InternalError(absl::StrCat("redis reply for ", what,
                                            " is not an array of at least ",
                                            min_size, " elements"));
  }
  return &reply.elements;
}

}  // namespace makegood::redis
