// File: services/redis/redis_client_factory.h
//
// StartRedisClient: the production RedisClient for a set of options, the
// one place that chooses between HiredisClient (hiredis_client.h: a single
// node, or a primary found through Sentinel) and ClusterClient
// (cluster_client.h: a redis-cluster:// URL, options.cluster_nodes set).
//
// Example:
//   RedisOptions options;
//   RETURN_IF_ERROR(ParseRedisUrl(url, &options));
//   ASSIGN_OR_RETURN(std::unique_ptr<RedisClient> redis,
//                    StartRedisClient(options));
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "services/redis/redis_client.h"
#include "services/redis/redis_options.h"

namespace makegood::redis {

// Starts the client `options` call for; does not wait for Redis. Fails on
// bad options, as the client's own Start does.
absl::StatusOr<std::unique_ptr<RedisClient>> StartRedisClient(
    RedisOptions options);

}  // namespace makegood::redis
