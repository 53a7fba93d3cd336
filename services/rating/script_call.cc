#include "services/rating/script_call.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace makegood::rating {

using redis::RedisReply;

absl::Status MalformedReply(absl::string_view script,
                            absl::string_view problem) {
  return absl::InternalError(
      absl::StrCat("malformed ", script, " reply: ", problem));
}

absl::StatusOr<const std::vector<RedisReply>*> TaggedReply(
    const RedisReply& reply, size_t min_size, absl::string_view script) {
  if (reply.type != RedisReply::Type::kArray) {
    return MalformedReply(script, "not an array");
  }
  if (reply.elements.size() < std::max<size_t>(min_size, 1)) {
    return MalformedReply(script, absl::StrCat(reply.elements.size(),
                                               " elements, expected at least ",
                                               std::max<size_t>(min_size, 1)));
  }
  if (!reply.elements[0].is_text()) {
    return MalformedReply(script, "its answer is not text");
  }
  return &reply.elements;
}

absl::StatusOr<int64_t> IntegerAt(const std::vector<RedisReply>& elements,
                                  size_t index, absl::string_view script,
                                  absl::string_view field) {
  if (index < elements.size()) {
    const RedisReply& e = elements[index];
    if (e.type == RedisReply::Type::kInteger) return e.integer;
    int64_t value = 0;
    if (e.is_text() && absl::SimpleAtoi(e.str, &value)) return value;
  }
  return MalformedReply(script, absl::StrCat(field, " is not an integer"));
}

absl::StatusOr<std::string> TextAt(const std::vector<RedisReply>& elements,
                                   size_t index, absl::string_view script,
                                   absl::string_view field) {
  if (index < elements.size() && elements[index].is_text()) {
    return elements[index].str;
  }
  return MalformedReply(script, absl::StrCat(field, " is not text"));
}

}  // namespace makegood::rating
