#include "services/tools/admin/dead_letters.h"

#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "services/core/status_macros.h"
#include "services/redis/redis_reply.h"
#include "services/tools/admin/refund_record.h"

namespace makegood::admin {

using Json = nlohmann::ordered_json;
using redis::RedisReply;

absl::Status ListDeadLetters(BlockingRedis& redis,
                             const store::KeySchema& keys) {
  for (int p = 0; p < keys.partitions(); ++p) {
    const std::string key = keys.DeadOutboxKey(p);
    std::string from = "-";
    while (true) {
      MAKEGOOD_ASSIGN_OR_RETURN(
          RedisReply page,
          redis.Run({"XRANGE", key, from, "+", "COUNT", "500"}));
      for (const RedisReply& entry : page.elements) {
        if (entry.elements.size() < 2) continue;
        Json line = {{"partition", p}, {"id", entry.elements[0].str}};
        for (const auto& [field, value] : Fields(entry.elements[1])) {
          line[field] = value;
        }
        std::cout << line.dump() << "\n";
      }
      if (page.elements.size() < 500) break;
      from = absl::StrCat("(", page.elements.back().elements[0].str);
    }
  }
  return absl::OkStatus();
}

}  // namespace makegood::admin
