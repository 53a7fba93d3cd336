#include "services/store/script_call.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace makegood::store {

using redis::RedisReply;

absl::Status MalformedReply(absl::string_view script,
                            absl::string_view problem) {
  return absl::InternalError(
      absl::StrCat("malformed ", script, " reply: ", problem));
}

absl::StatusOr<const std::vector<RedisReply>*> ArrayReply(
    const RedisReply& reply, size_t min_size, absl::string_view script) {
  if (reply.type != RedisReply::Type::kArray) {
    return MalformedReply(script, "not an array");
  }
  if (reply.elements.size() < min_size) {
    return MalformedReply(
        script, absl::StrCat(reply.elements.size(),
                             " elements, expected at least ", min_size));
  }
  return &reply.elements;
}

absl::StatusOr<const std::vector<RedisReply>*> TaggedReply(
    const RedisReply& reply, size_t min_size, absl::string_view script) {
  auto elements = ArrayReply(reply, std::max<size_t>(min_size, 1), script);
  if (!elements.ok()) return elements.status();
  if (!(**elements)[0].is_text()) {
    return MalformedReply(script, "its answer is not text");
  }
  return elements;
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

absl::StatusOr<std::vector<IndexEntry>> IndexEntriesFrom(
    const std::vector<RedisReply>& elements, size_t first,
    absl::string_view script) {
  if (first > elements.size() || (elements.size() - first) % 2 != 0) {
    return MalformedReply(script, "not (id, score) pairs");
  }
  std::vector<IndexEntry> out;
  out.reserve((elements.size() - first) / 2);
  for (size_t i = first; i < elements.size(); i += 2) {
    if (!elements[i].is_text() || !elements[i + 1].is_text()) {
      return MalformedReply(script, "an (id, score) pair is not text");
    }
    out.push_back(IndexEntry{elements[i].str, elements[i + 1].str});
  }
  return out;
}

absl::StatusOr<std::vector<IndexEntry>> IndexEntriesOf(
    const RedisReply& reply, absl::string_view script) {
  auto elements = ArrayReply(reply, 0, script);
  if (!elements.ok()) return elements.status();
  return IndexEntriesFrom(**elements, 0, script);
}

}  // namespace makegood::store
