// File: services/store/read_hashes.cc
#include "services/store/read_hashes.h"

#include <utility>

#include "absl/status/status.h"
#include "services/store/lua/scripts.h"

namespace makegood::store {

void ReadHashes(
    redis::RedisClient& redis, std::vector<std::string> keys,
    std::vector<std::string> fields,
    absl::AnyInvocable<void(absl::StatusOr<std::vector<HashRow>>)> done) {
  if (keys.empty()) {
    done(std::vector<HashRow>());
    return;
  }
  const size_t want = keys.size();
  const size_t width = fields.size();
  redis.Eval(scripts::kReadHashes, std::move(keys), std::move(fields),
             [want, width, done = std::move(done)](
                 absl::StatusOr<redis::RedisReply> reply) mutable {
               if (!reply.ok()) {
                 done(reply.status());
                 return;
               }
               auto rows = redis::ReplyArray(*reply, want, "read_hashes");
               if (!rows.ok()) {
                 done(rows.status());
                 return;
               }
               std::vector<HashRow> out;
               out.reserve(want);
               for (const redis::RedisReply& row : **rows) {
                 auto values = redis::ReplyArray(row, width, "read_hashes row");
                 if (!values.ok()) {
                   done(values.status());
                   return;
                 }
                 if (width > 0 && (**values)[0].is_nil()) {
                   out.emplace_back(std::nullopt);
                   continue;
                 }
                 std::vector<std::string> fields_out;
                 fields_out.reserve(width);
                 for (const redis::RedisReply& value : **values) {
                   fields_out.push_back(value.is_text() ? value.str : "");
                 }
                 out.emplace_back(std::move(fields_out));
               }
               done(std::move(out));
             });
}

void ReadIndexed(
    redis::RedisClient& redis, absl::StatusOr<redis::RedisReply> index,
    absl::string_view what, size_t first,
    const std::function<std::string(absl::string_view id)>& key_of,
    std::vector<std::string> fields,
    absl::AnyInvocable<void(absl::StatusOr<IndexedRecords>)> done) {
  if (!index.ok()) {
    done(index.status());
    return;
  }
  auto elements = redis::ReplyArray(*index, first, what);
  if (!elements.ok()) {
    done(elements.status());
    return;
  }
  IndexedRecords out;
  out.index = std::move(index->elements);
  std::vector<std::string> keys;
  for (size_t i = first; i + 1 < out.index.size(); i += 2) {
    keys.push_back(key_of(out.index[i].str));
  }
  ReadHashes(redis, std::move(keys), std::move(fields),
             [out = std::move(out), done = std::move(done)](
                 absl::StatusOr<std::vector<HashRow>> rows) mutable {
               if (!rows.ok()) {
                 done(rows.status());
                 return;
               }
               out.rows = *std::move(rows);
               done(std::move(out));
             });
}

}  // namespace makegood::store
