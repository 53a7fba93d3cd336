// File: services/redis/hiredis_conversion.h
//
// The edge between hiredis and the rest of services/redis, internal to this
// folder: argument vectors go out through SendArgv; hiredis replies come in
// as owned RedisReply values (ConvertReply), and error replies as a Status
// (ErrorReplyToStatus) whose code says whether to retry.
//
// Example:
//   SendArgv(ctx, &OnReply, tag, {"PING"});
//   // ... in OnReply, with a non-error reply:
//   RedisReply owned = ConvertReply(*static_cast<const redisReply*>(reply));
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "services/redis/redis_reply.h"

struct redisAsyncContext;
struct redisReply;

namespace makegood::redis {

// hiredis's reply callback (redisCallbackFn), spelled out so that this
// header need not include hiredis.
using HiredisReplyFn = void(redisAsyncContext*, void*, void*);

// Queues `args` (binary-safe) on `ctx`; hiredis copies them, so `args` may
// go once this returns. REDIS_OK, or REDIS_ERR when the context is closing.
int SendArgv(redisAsyncContext* ctx, HiredisReplyFn* fn, void* privdata,
             const std::vector<std::string>& args);

// Copies `reply` (nested arrays included) out of hiredis, which frees it when
// the callback returns. Nested error replies become RedisReply::Type::kError;
// a nil, or any type makegood does not use, becomes RedisReply::Nil().
RedisReply ConvertReply(const redisReply& reply);

// The status for an error reply with `text` ("ERR ...", "LOADING ..."):
// errors that pass by themselves (a replica being promoted, a dataset
// loading, a busy script, memory pressure: LOADING, BUSY, READONLY,
// MASTERDOWN, OOM, TRYAGAIN, NOREPLICAS, CLUSTERDOWN) are UNAVAILABLE,
// retry later; any other is INTERNAL. The message is "redis: " + `text`.
absl::Status ErrorReplyToStatus(absl::string_view text);

}  // namespace makegood::redis
