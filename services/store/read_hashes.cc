// File: services/store/read_hashes.cc
#include "services/store/read_hashes.h"

#include <utility>

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
  ScriptCall call = BuildReadHashesCall(
      ReadHashesRequest{.keys = std::move(keys), .fields = std::move(fields)});
  redis.Eval(scripts::kReadHashes, std::move(call.keys), std::move(call.args),
             [want, width, done = std::move(done)](
                 absl::StatusOr<redis::RedisReply> reply) mutable {
               if (!reply.ok()) {
                 done(reply.status());
                 return;
               }
               done(ParseReadHashesReply(*reply, want, width));
             });
}

void ReadIndexed(
    redis::RedisClient& redis, std::vector<IndexEntry> index,
    const std::function<std::string(absl::string_view id)>& key_of,
    std::vector<std::string> fields,
    absl::AnyInvocable<void(absl::StatusOr<IndexedRecords>)> done) {
  IndexedRecords out;
  out.index = std::move(index);
  std::vector<std::string> keys;
  keys.reserve(out.index.size());
  for (const IndexEntry& entry : out.index) keys.push_back(key_of(entry.id));
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
