#include "services/store/read_hashes_script.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace makegood::store {
namespace {

constexpr char kScript[] = "read_hashes";

}  // namespace

ScriptCall BuildReadHashesCall(ReadHashesRequest request) {
  return ScriptCall{.keys = std::move(request.keys),
                    .args = std::move(request.fields)};
}

absl::StatusOr<std::vector<HashRow>> ParseReadHashesReply(
    const redis::RedisReply& reply, size_t keys, size_t fields) {
  auto rows = ArrayReply(reply, keys, kScript);
  if (!rows.ok()) return rows.status();
  if ((*rows)->size() != keys) {
    return MalformedReply(
        kScript, absl::StrCat((*rows)->size(), " rows for ", keys, " keys"));
  }
  std::vector<HashRow> out;
  out.reserve(keys);
  for (const redis::RedisReply& row : **rows) {
    if (row.type != redis::RedisReply::Type::kArray ||
        row.elements.size() != fields) {
      return MalformedReply(kScript, absl::StrCat("a row is not an array of ",
                                                  fields, " fields"));
    }
    if (fields > 0 && row.elements[0].is_nil()) {
      out.emplace_back(std::nullopt);
      continue;
    }
    std::vector<std::string> values;
    values.reserve(fields);
    for (const redis::RedisReply& value : row.elements) {
      if (!value.is_text() && !value.is_nil()) {
        return MalformedReply(kScript, "a field is neither text nor nil");
      }
      values.push_back(value.str);
    }
    out.emplace_back(std::move(values));
  }
  return out;
}

}  // namespace makegood::store
