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

}  // namespace makegood::store
