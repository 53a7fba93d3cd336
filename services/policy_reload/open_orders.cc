#include "services/policy_reload/open_orders.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "services/policy/markets.h"

namespace makegood::policy_reload {

absl::StatusOr<absl::btree_map<std::string, int64_t>> OpenOrders::Count(
    absl::Time now) const {
  struct Shared {
    absl::Mutex mu;
    absl::btree_map<std::string, int64_t> counts ABSL_GUARDED_BY(mu);
    absl::Status status ABSL_GUARDED_BY(mu);
  };
  auto shared = std::make_shared<Shared>();
  auto counter = std::make_shared<absl::BlockingCounter>(keys_.partitions());
  const std::string from = absl::StrCat(absl::ToUnixMillis(now));
  for (int p = 0; p < keys_.partitions(); ++p) {
    redis_.Command(
        {"ZRANGEBYSCORE", keys_.OpenOrdersKey(p), from, "+inf"},
        [shared, counter](absl::StatusOr<redis::RedisReply> reply) {
          {
            absl::MutexLock lock(&shared->mu);
            if (!reply.ok()) {
              shared->status.Update(reply.status());
            } else {
              for (const redis::RedisReply& member : reply->elements) {
                // "<CUR>:<order_id>".
                const size_t colon = member.str.find(':');
                if (colon == std::string::npos) continue;
                ++shared->counts[member.str.substr(0, colon)];
              }
            }
          }
          counter->DecrementCount();
        });
  }
  counter->Wait();
  absl::MutexLock lock(&shared->mu);
  if (!shared->status.ok()) return shared->status;
  return std::move(shared->counts);
}

ReloadGuard DroppedCurrencyGuard(const OpenOrders& open, const Clock& clock) {
  return [&open, &clock](const policy_file::PolicySnapshot& current,
                         const policy_file::PolicySnapshot& next)
             -> std::optional<ReloadRefusal> {
    const policy::PolicyConfig& next_config = next.engine->config();
    std::vector<std::string> dropped;
    for (const std::string& currency :
         policy::ServedCurrencies(current.engine->config())) {
      if (!policy::Serves(next_config, currency)) dropped.push_back(currency);
    }
    if (dropped.empty()) return std::nullopt;
    absl::StatusOr<absl::btree_map<std::string, int64_t>> counts =
        open.Count(clock.Now());
    if (!counts.ok()) {
      return ReloadRefusal{
          .message = absl::StrCat("the policy would stop serving ",
                                  absl::StrJoin(dropped, ", "),
                                  " and its open orders cannot be counted: ",
                                  counts.status().message()),
          .currency = "",
          .open_orders = 0};
    }
    for (const std::string& currency : dropped) {
      auto found = counts->find(currency);
      if (found == counts->end() || found->second == 0) continue;
      return ReloadRefusal{
          .message = absl::StrCat(
              "the policy would stop serving ", currency, ", which has ",
              found->second,
              " unrated orders inside their rating window; the current "
              "policy keeps serving"),
          .currency = currency,
          .open_orders = found->second};
    }
    return std::nullopt;
  };
}

}  // namespace makegood::policy_reload
