#include "services/tools/admin/open_orders_index.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/core/clock.h"
#include "services/core/status_macros.h"
#include "services/policy/markets.h"
#include "services/policy_file/policy_document.h"

namespace makegood::admin {

absl::StatusOr<nlohmann::ordered_json> IndexOpenOrders(
    BlockingRedis& redis, const store::KeySchema& keys,
    const Options& options) {
  if (options.policy_path.empty()) {
    return absl::InvalidArgumentError(
        "index-open-orders needs --policy (the rating windows)");
  }
  const absl::Time now = RealClock().Now();
  MAKEGOOD_ASSIGN_OR_RETURN(
      policy_file::PolicySnapshot policy,
      policy_file::LoadPolicyFile(options.policy_path, now));
  const policy::PolicyConfig& config = policy.engine->config();
  // The rating window per served currency.
  std::map<std::string, int64_t> window_ms;
  for (const std::string& currency : policy::ServedCurrencies(config)) {
    MAKEGOOD_ASSIGN_OR_RETURN(policy::PolicyConfig market,
                              policy::ForCurrency(config, currency));
    window_ms[currency] = absl::ToInt64Milliseconds(market.rating_window);
  }
  const int64_t now_ms = absl::ToUnixMillis(now);
  int64_t seen = 0, indexed = 0, rated = 0, closed = 0, unserved = 0;
  MAKEGOOD_RETURN_IF_ERROR(redis.Scan(
      store::KeySchema::AllOrdersPattern(), "hash",
      [&](std::vector<std::string> found) -> absl::Status {
        struct Order {
          int partition;
          std::string id;
        };
        std::vector<Order> orders;
        std::vector<Argv> reads;
        for (const std::string& key : found) {
          std::optional<int> p = store::KeySchema::PartitionOfKey(key);
          std::optional<std::string> id = store::KeySchema::OrderIdOfKey(key);
          if (!p.has_value() || !id.has_value() || *p >= keys.partitions()) {
            continue;
          }
          orders.push_back({*p, *id});
          reads.push_back(
              {"HMGET", key, "rated", "currency", "delivered_at_ms"});
        }
        std::vector<absl::StatusOr<redis::RedisReply>> replies =
            redis.Pipeline(std::move(reads));
        std::vector<Argv> writes;
        for (size_t i = 0; i < orders.size(); ++i) {
          if (!replies[i].ok()) return replies[i].status();
          const std::vector<redis::RedisReply>& f = replies[i]->elements;
          if (f.size() != 3) continue;
          ++seen;
          if (f[0].str == "1") {
            ++rated;
            continue;
          }
          auto window = window_ms.find(f[1].str);
          if (window == window_ms.end()) {
            ++unserved;
            continue;
          }
          int64_t delivered = 0;
          if (!absl::SimpleAtoi(f[2].str, &delivered)) continue;
          const int64_t end = delivered + window->second;
          if (end < now_ms) {
            ++closed;
            continue;
          }
          writes.push_back(
              {"ZADD", keys.OpenOrdersKey(orders[i].partition),
               absl::StrCat(end),
               store::KeySchema::OpenOrderMember(f[1].str, orders[i].id)});
        }
        for (const auto& written : redis.Pipeline(std::move(writes))) {
          if (!written.ok()) return written.status();
          ++indexed;
        }
        return absl::OkStatus();
      }));
  return nlohmann::ordered_json{{"command", "index-open-orders"},
                                {"policy_version", policy.version},
                                {"orders", seen},
                                {"indexed", indexed},
                                {"rated", rated},
                                {"window_ended", closed},
                                {"unserved", unserved}};
}

}  // namespace makegood::admin
