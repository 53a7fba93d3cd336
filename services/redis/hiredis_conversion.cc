// File: services/redis/hiredis_conversion.cc
#include "services/redis/hiredis_conversion.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace makegood::redis {

int SendArgv(redisAsyncContext* ctx, HiredisReplyFn* fn, void* privdata,
             const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const std::string& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  return redisAsyncCommandArgv(ctx, fn, privdata, static_cast<int>(args.size()),
                               argv.data(), lengths.data());
}

RedisReply ConvertReply(const redisReply& reply) {
  switch (reply.type) {
    case REDIS_REPLY_STRING:
      return RedisReply::String(std::string(reply.str, reply.len));
    case REDIS_REPLY_STATUS:
      return RedisReply::Status(std::string(reply.str, reply.len));
    case REDIS_REPLY_INTEGER:
      return RedisReply::Integer(reply.integer);
    case REDIS_REPLY_ARRAY: {
      std::vector<RedisReply> elements;
      elements.reserve(reply.elements);
      for (size_t i = 0; i < reply.elements; ++i) {
        elements.push_back(ConvertReply(*reply.element[i]));
      }
      return RedisReply::Array(std::move(elements));
    }
    case REDIS_REPLY_ERROR: {
      RedisReply e;
      e.type = RedisReply::Type::kError;
      e.str.assign(reply.str, reply.len);
      return e;
    }
    default:
      return RedisReply::Nil();
  }
}

absl::Status ErrorReplyToStatus(absl::string_view text) {
  static constexpr absl::string_view kTransient[] = {
      "LOADING", "BUSY",     "READONLY",   "MASTERDOWN",
      "OOM",     "TRYAGAIN", "NOREPLICAS", "CLUSTERDOWN"};
  for (absl::string_view prefix : kTransient) {
    if (absl::StartsWith(text, prefix)) {
      return absl::UnavailableError(absl::StrCat("redis: ", text));
    }
  }
  return absl::InternalError(absl::StrCat("redis: ", text));
}

}  // namespace makegood::redis
