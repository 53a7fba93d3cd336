#include "services/tools/admin/refund_record.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "services/store/key_schema.h"

namespace makegood::admin {

using redis::RedisReply;

std::map<std::string, std::string> Fields(const RedisReply& flat) {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i + 1 < flat.elements.size(); i += 2) {
    out[flat.elements[i].str] = flat.elements[i + 1].str;
  }
  return out;
}

std::optional<std::string> At(const RedisReply& hmget, size_t i) {
  if (i >= hmget.elements.size() || hmget.elements[i].is_nil()) {
    return std::nullopt;
  }
  return hmget.elements[i].str;
}

std::optional<int64_t> Int(const std::optional<std::string>& text) {
  int64_t v = 0;
  if (!text.has_value() || !absl::SimpleAtoi(*text, &v)) return std::nullopt;
  return v;
}

Argv Hmget(const std::string& key, const std::vector<std::string>& fields) {
  Argv argv = {"HMGET", key};
  argv.insert(argv.end(), fields.begin(), fields.end());
  return argv;
}

const std::vector<std::string>& RefundFields() {
  static const auto* fields = new std::vector<std::string>{
      "state",        "amount_minor",  "currency", "instrument",
      "member_id",    "order_id",      "provider", "provider_ref",
      "payment_ref",  "updated_at_ms", "seq",      "state_reason",
      "created_at_ms"};
  return *fields;
}

Refund Refund::From(const std::string& key, int partition,
                    const std::string& id, const RedisReply& hmget) {
  Refund r;
  r.key = key;
  r.partition = partition;
  r.id = id;
  r.state = At(hmget, 0);
  r.amount = Int(At(hmget, 1));
  r.currency = At(hmget, 2).value_or("");
  r.instrument = At(hmget, 3).value_or("");
  r.member_id = At(hmget, 4).value_or("");
  r.order_id = At(hmget, 5).value_or("");
  r.provider = At(hmget, 6).value_or("");
  r.provider_ref = At(hmget, 7).value_or("");
  r.payment_ref = At(hmget, 8).value_or("");
  r.updated_at_ms = Int(At(hmget, 9)).value_or(0);
  r.seq = Int(At(hmget, 10));
  r.state_reason = At(hmget, 11).value_or("");
  return r;
}

settlement::PayoutRequest Refund::Request() const {
  settlement::PayoutRequest q;
  q.refund_id = id;
  q.member_id = member_id;
  q.order_id = order_id;
  q.amount_minor = amount.value_or(0);
  q.currency = currency;
  q.payment_reference = payment_ref;
  return q;
}

std::vector<FoundRefund> FindRefunds(const std::vector<std::string>& keys,
                                     int partitions) {
  std::vector<FoundRefund> out;
  for (const std::string& key : keys) {
    std::optional<int> partition = store::KeySchema::PartitionOfKey(key);
    std::optional<std::string> id = store::KeySchema::RefundIdOfKey(key);
    if (!partition.has_value() || !id.has_value() || *partition >= partitions) {
      continue;
    }
    out.push_back({key, *partition, *std::move(id)});
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> MemberIds(
    BlockingRedis& redis, const std::vector<std::string>& refund_keys) {
  std::vector<Argv> commands;
  for (const std::string& key : refund_keys) {
    commands.push_back({"HGET", key, "member_id"});
  }
  std::vector<std::string> out;
  for (auto& reply : redis.Pipeline(std::move(commands))) {
    if (!reply.ok()) return reply.status();
    out.push_back(reply->is_text() ? reply->str : "");
  }
  return out;
}

}  // namespace makegood::admin
