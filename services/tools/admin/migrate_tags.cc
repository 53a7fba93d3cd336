#include "services/tools/admin/migrate_tags.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "services/core/status_macros.h"
#include "services/redis/redis_reply.h"
#include "services/store/key_schema.h"

namespace makegood::admin {
namespace {

using redis::RedisReply;

// The key under schema version 2 of a version 1 key "mg:{p<N>}:rest" or
// "mg:{g<N>}:rest", or nullopt for any other key (one already moved).
std::optional<std::string> NewKey(const store::KeySchema& keys,
                                  absl::string_view key) {
  if (!absl::ConsumePrefix(&key, "mg:{") || key.empty()) return std::nullopt;
  const char letter = key[0];
  const size_t close = key.find("}:");
  if ((letter != 'p' && letter != 'g') || close == absl::string_view::npos ||
      close < 2) {
    return std::nullopt;
  }
  absl::string_view digits = key.substr(1, close - 1);
  int partition = 0;
  for (char c : digits) {
    if (!absl::ascii_isdigit(c)) return std::nullopt;
  }
  if (!absl::SimpleAtoi(digits, &partition) ||
      absl::StrCat(partition) != digits || partition >= keys.partitions()) {
    return std::nullopt;
  }
  absl::string_view rest = key.substr(close + 2);
  if (letter == 'p') return absl::StrCat(keys.PartitionPrefix(partition), rest);
  return absl::StrCat("mg:{", keys.AgentTag(partition), "}:", rest);
}

}  // namespace

absl::StatusOr<MigrateTagsResult> MigrateTags(BlockingRedis& redis) {
  MAKEGOOD_ASSIGN_OR_RETURN(RedisReply meta,
                            redis.Run({"HMGET", store::KeySchema::MetaKey(),
                                       "partitions", "schema_version"}));
  MAKEGOOD_ASSIGN_OR_RETURN(const auto* fields,
                            redis::ReplyArray(meta, 2, "HMGET mg:meta"));
  const RedisReply& version = (*fields)[1];
  if (version.is_text() && version.str == absl::StrCat(store::kSchemaVersion)) {
    return MigrateTagsResult{.already_done = true};
  }
  int partitions = 0;
  if (!version.is_text() || version.str != "1" || !(*fields)[0].is_text() ||
      !absl::SimpleAtoi((*fields)[0].str, &partitions)) {
    return absl::FailedPreconditionError(
        "mg:meta does not record schema_version 1 and a partition count: "
        "nothing migrate-tags knows how to move");
  }
  MAKEGOOD_ASSIGN_OR_RETURN(store::KeySchema keys,
                            store::KeySchema::Create(partitions));

  MigrateTagsResult result;
  std::vector<std::string> taken;  // New keys that existed already.
  // Every type makegood stores (store/key_schema.h).
  for (const char* type : {"hash", "string", "zset", "stream"}) {
    MAKEGOOD_RETURN_IF_ERROR(redis.Scan(
        "mg:{[pg][0-9]*}:*", type,
        [&](std::vector<std::string> found) -> absl::Status {
          std::vector<Argv> renames;
          for (std::string& key : found) {
            std::optional<std::string> moved = NewKey(keys, key);
            if (!moved.has_value()) continue;
            renames.push_back({"RENAMENX", std::move(key), *std::move(moved)});
          }
          std::vector<absl::StatusOr<RedisReply>> replies =
              redis.Pipeline(renames);
          for (size_t i = 0; i < replies.size(); ++i) {
            if (!replies[i].ok()) return replies[i].status();
            MAKEGOOD_ASSIGN_OR_RETURN(
                int64_t moved, redis::ReplyInteger(*replies[i], "RENAMENX"));
            if (moved == 1) {
              ++result.renamed;
            } else {
              taken.push_back(renames[i][2]);
            }
          }
          return absl::OkStatus();
        }));
  }
  if (!taken.empty()) {
    if (taken.size() > 5) taken.resize(5);
    return absl::FailedPreconditionError(absl::StrCat(
        "keys under the new tags exist already (", absl::StrJoin(taken, ", "),
        "); moved ", result.renamed,
        " others, schema_version left at 1: has a new server run here?"));
  }
  MAKEGOOD_RETURN_IF_ERROR(
      redis
          .Run({"HSET", store::KeySchema::MetaKey(), "schema_version",
                absl::StrCat(store::kSchemaVersion)})
          .status());
  return result;
}

}  // namespace makegood::admin
