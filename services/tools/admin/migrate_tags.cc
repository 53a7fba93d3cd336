#include "services/tools/admin/migrate_tags.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "services/core/status_macros.h"
#include "services/redis/redis_reply.h"
#include "services/store/key_schema.h"
#include "services/tools/admin/refund_record.h"

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

// Moves each key moves[i].first to moves[i].second unless the latter exists
// (then it is added to `taken`), as RENAMENX does. On a cluster the two are
// in different slots, which RENAMENX refuses (CROSSSLOT): the value is
// copied with DUMP and RESTORE (no REPLACE: BUSYKEY when the new key
// exists; its time to live and a stream's consumer groups go with it) and
// the old key deleted. Every server is stopped, so nothing writes meanwhile.
// `type` is the type of every key of `moves` (SCAN's TYPE).
absl::Status MoveKeys(
    BlockingRedis& redis, const std::string& type,
    const std::vector<std::pair<std::string, std::string>>& moves,
    MigrateTagsResult& result, std::vector<std::string>& taken) {
  if (!redis.cluster()) {
    std::vector<Argv> renames;
    for (const auto& [from, to] : moves) {
      renames.push_back({"RENAMENX", from, to});
    }
    std::vector<absl::StatusOr<RedisReply>> replies = redis.Pipeline(renames);
    for (size_t i = 0; i < replies.size(); ++i) {
      if (!replies[i].ok()) return replies[i].status();
      MAKEGOOD_ASSIGN_OR_RETURN(int64_t moved,
                                redis::ReplyInteger(*replies[i], "RENAMENX"));
      if (moved == 1) {
        ++result.renamed;
      } else {
        taken.push_back(moves[i].second);
      }
    }
    return absl::OkStatus();
  }
  std::vector<Argv> reads;
  for (const auto& [from, to] : moves) {
    reads.push_back({"PTTL", from});
    reads.push_back({"DUMP", from});
  }
  std::vector<absl::StatusOr<RedisReply>> dumped = redis.Pipeline(reads);
  std::vector<Argv> restores;
  std::vector<size_t> restored;  // Index into moves of each RESTORE.
  for (size_t i = 0; i < moves.size(); ++i) {
    if (!dumped[2 * i].ok()) return dumped[2 * i].status();
    if (!dumped[2 * i + 1].ok()) return dumped[2 * i + 1].status();
    MAKEGOOD_ASSIGN_OR_RETURN(int64_t pttl,
                              redis::ReplyInteger(*dumped[2 * i], "PTTL"));
    const RedisReply& payload = *dumped[2 * i + 1];
    if (pttl == -2 || payload.is_nil()) continue;  // Gone (expired).
    // -1: no expiry, which RESTORE spells 0.
    restores.push_back({"RESTORE", moves[i].second,
                        absl::StrCat(pttl < 0 ? 0 : std::max<int64_t>(pttl, 1)),
                        payload.str});
    restored.push_back(i);
  }
  std::vector<absl::StatusOr<RedisReply>> replies = redis.Pipeline(restores);
  std::vector<Argv> deletes;
  std::vector<size_t> busy;  // Index into restores of each BUSYKEY.
  for (size_t j = 0; j < replies.size(); ++j) {
    if (!replies[j].ok()) {
      if (!absl::StrContains(replies[j].status().message(), "BUSYKEY")) {
        return replies[j].status();
      }
      busy.push_back(j);
      continue;
    }
    deletes.push_back({"DEL", moves[restored[j]].first});
  }
  // A new key holding exactly the old one's value is the copy of a run that
  // stopped before its DEL: the old key goes now. Any other is taken. A
  // hash is compared by its fields: DUMP follows a large hash's table
  // order, which differs between two copies of one value.
  const bool hash = type == "hash";
  std::vector<Argv> reads_again;
  for (size_t j : busy) {
    const auto& [from, to] = moves[restored[j]];
    if (hash) {
      reads_again.push_back({"HGETALL", from});
      reads_again.push_back({"HGETALL", to});
    } else {
      reads_again.push_back({"DUMP", to});
    }
  }
  std::vector<absl::StatusOr<RedisReply>> now = redis.Pipeline(reads_again);
  for (const auto& reply : now) {
    if (!reply.ok()) return reply.status();
  }
  for (size_t b = 0; b < busy.size(); ++b) {
    const auto& [from, to] = moves[restored[busy[b]]];
    const bool copy =
        hash ? Fields(*now[2 * b]) == Fields(*now[2 * b + 1])
             : now[b]->is_text() && now[b]->str == restores[busy[b]][3];
    if (copy) {
      deletes.push_back({"DEL", from});
    } else {
      taken.push_back(to);
    }
  }
  for (auto& reply : redis.Pipeline(std::move(deletes))) {
    if (!reply.ok()) return reply.status();
    ++result.renamed;
  }
  return absl::OkStatus();
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
    MAKEGOOD_RETURN_IF_ERROR(
        redis.Scan("mg:{[pg][0-9]*}:*", type,
                   [&](std::vector<std::string> found) -> absl::Status {
                     std::vector<std::pair<std::string, std::string>> moves;
                     for (std::string& key : found) {
                       std::optional<std::string> moved = NewKey(keys, key);
                       if (!moved.has_value()) continue;
                       moves.emplace_back(std::move(key), *std::move(moved));
                     }
                     return MoveKeys(redis, type, moves, result, taken);
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
