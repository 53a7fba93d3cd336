#include "services/settlement/script_call.h"

#include "absl/strings/str_cat.h"

namespace makegood::settlement {

using redis::RedisReply;

absl::Status MalformedReply(absl::string_view script,
                            absl::string_view problem) {
  return absl::InternalError(
      absl::StrCat("malformed ", script, " reply: ", problem));
}

absl::StatusOr<const std::vector<RedisReply>*> AnswerOf(
    const RedisReply& reply, absl::string_view script) {
  if (reply.type != RedisReply::Type::kArray) {
    return MalformedReply(script, "not an array");
  }
  if (reply.elements.empty()) return MalformedReply(script, "no answer");
  if (!reply.elements[0].is_text()) {
    return MalformedReply(script, "its answer is not text");
  }
  return &reply.elements;
}

absl::StatusOr<std::string> TextAt(const std::vector<RedisReply>& elements,
                                   size_t index, absl::string_view script,
                                   absl::string_view field) {
  if (index < elements.size() && elements[index].is_text()) {
    return elements[index].str;
  }
  return MalformedReply(script, absl::StrCat(field, " is missing or not text"));
}

absl::StatusOr<int64_t> IntegerAt(const std::vector<RedisReply>& elements,
                                  size_t index, absl::string_view script,
                                  absl::string_view field) {
  if (index < elements.size()) {
    auto value = redis::ReplyInteger(elements[index], field);
    if (value.ok()) return *value;
  }
  return MalformedReply(script,
                        absl::StrCat(field, " is missing or not an integer"));
}

}  // namespace makegood::settlement
