// File: services/redis/redis_client_factory.cc
#include "services/redis/redis_client_factory.h"

#include <utility>

#include "services/redis/cluster_client.h"
#include "services/redis/hiredis_client.h"

namespace makegood::redis {

absl::StatusOr<std::unique_ptr<RedisClient>> StartRedisClient(
    RedisOptions options) {
  if (!options.cluster_nodes.empty()) {
    auto client = ClusterClient::Start(std::move(options));
    if (!client.ok()) return client.status();
    return std::unique_ptr<RedisClient>(*std::move(client));
  }
  auto client = HiredisClient::Start(std::move(options));
  if (!client.ok()) return client.status();
  return std::unique_ptr<RedisClient>(*std::move(client));
}

}  // namespace makegood::redis
