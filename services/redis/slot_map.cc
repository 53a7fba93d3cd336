// File: services/redis/slot_map.cc
#include "services/redis/slot_map.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace makegood::redis {

absl::StatusOr<std::vector<SlotRange>> ParseClusterSlots(
    const RedisReply& reply, const RedisAddress& asked) {
  if (reply.type != RedisReply::Type::kArray) {
    return absl::InternalError("CLUSTER SLOTS: the answer is not an array");
  }
  std::vector<SlotRange> ranges;
  for (size_t i = 0; i < reply.elements.size(); ++i) {
    const RedisReply& entry = reply.elements[i];
    auto bad = [i](absl::string_view what) {
      return absl::InternalError(
          absl::StrCat("CLUSTER SLOTS: entry ", i, ": ", what));
    };
    if (entry.type != RedisReply::Type::kArray || entry.elements.size() < 3) {
      return bad("not [first, last, primary, ...]");
    }
    const RedisReply& first = entry.elements[0];
    const RedisReply& last = entry.elements[1];
    const RedisReply& node = entry.elements[2];
    if (first.type != RedisReply::Type::kInteger ||
        last.type != RedisReply::Type::kInteger || first.integer < 0 ||
        first.integer > last.integer || last.integer >= kClusterSlots) {
      return bad("slot range is not 0 <= first <= last < 16384");
    }
    if (node.type != RedisReply::Type::kArray || node.elements.size() < 2) {
      return bad("primary is not [ip, port, ...]");
    }
    const RedisReply& ip = node.elements[0];
    const RedisReply& port = node.elements[1];
    if ((!ip.is_nil() && !ip.is_text()) ||
        port.type != RedisReply::Type::kInteger || port.integer < 1 ||
        port.integer > 65535) {
      return bad("primary is not [ip, port, ...]");
    }
    SlotRange range;
    range.first = static_cast<int>(first.integer);
    range.last = static_cast<int>(last.integer);
    range.primary.host = ip.is_nil() || ip.str.empty() ? asked.host : ip.str;
    range.primary.port = static_cast<int>(port.integer);
    ranges.push_back(std::move(range));
  }
  return ranges;
}

std::optional<Redirect> ParseRedirect(absl::string_view error,
                                      const RedisAddress& answered_by) {
  Redirect redirect;
  if (absl::StartsWith(error, "MOVED ")) {
    redirect.kind = Redirect::Kind::kMoved;
    error.remove_prefix(6);
  } else if (absl::StartsWith(error, "ASK ")) {
    redirect.kind = Redirect::Kind::kAsk;
    error.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  size_t space = error.find(' ');
  if (space == absl::string_view::npos) return std::nullopt;
  absl::string_view endpoint =
      absl::StripAsciiWhitespace(error.substr(space + 1));
  size_t colon = endpoint.rfind(':');
  if (!absl::SimpleAtoi(error.substr(0, space), &redirect.slot) ||
      redirect.slot < 0 || redirect.slot >= kClusterSlots ||
      colon == absl::string_view::npos ||
      !ParsePort(endpoint.substr(colon + 1), &redirect.address.port)) {
    return std::nullopt;
  }
  absl::string_view host = endpoint.substr(0, colon);
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]")) {
    host = host.substr(1, host.size() - 2);
  }
  redirect.address.host = host.empty() ? answered_by.host : std::string(host);
  return redirect;
}

std::optional<absl::string_view> RoutingKey(
    const std::vector<std::string>& argv) {
  if (argv.empty()) return std::nullopt;
  const std::string name = absl::AsciiStrToUpper(argv[0]);
  if (name == "EVAL" || name == "EVALSHA" || name == "EVAL_RO" ||
      name == "EVALSHA_RO" || name == "FCALL" || name == "FCALL_RO") {
    int numkeys = 0;
    if (argv.size() < 4 || !absl::SimpleAtoi(argv[2], &numkeys) ||
        numkeys < 1) {
      return std::nullopt;
    }
    return argv[3];
  }
  if (name == "XREAD" || name == "XREADGROUP") {
    for (size_t i = 1; i + 1 < argv.size(); ++i) {
      if (absl::AsciiStrToUpper(argv[i]) == "STREAMS") return argv[i + 1];
    }
    return std::nullopt;
  }
  if (name == "XGROUP" || name == "XINFO" || name == "OBJECT" ||
      name == "MEMORY") {
    if (argv.size() < 3) return std::nullopt;
    return argv[2];
  }
  static const auto* const kKeyless = new absl::flat_hash_set<std::string>{
      "PING",         "INFO",      "CLUSTER",   "SCRIPT",    "DBSIZE",
      "SCAN",         "KEYS",      "FLUSHALL",  "FLUSHDB",   "TIME",
      "ECHO",         "CONFIG",    "CLIENT",    "COMMAND",   "ROLE",
      "MULTI",        "EXEC",      "DISCARD",   "WAIT",      "FUNCTION",
      "PUBLISH",      "AUTH",      "HELLO",     "SELECT",    "ASKING",
      "READONLY",     "READWRITE", "RANDOMKEY", "LASTSAVE",  "SLOWLOG",
      "LATENCY",      "DEBUG",     "MONITOR",   "SAVE",      "BGSAVE",
      "BGREWRITEAOF", "SHUTDOWN",  "SWAPDB",    "ACL",       "LOLWUT",
      "QUIT",         "RESET",     "UNWATCH",   "SUBSCRIBE", "PSUBSCRIBE",
      "PUBSUB"};
  if (kKeyless->contains(name) || argv.size() < 2) return std::nullopt;
  return argv[1];
}

absl::StatusOr<int> BlockSlot(
    const std::vector<std::vector<std::string>>& commands) {
  std::optional<absl::string_view> first;
  int slot = -1;
  for (const std::vector<std::string>& argv : commands) {
    std::optional<absl::string_view> key = RoutingKey(argv);
    if (!key.has_value()) continue;
    const int key_slot = KeySlot(*key);
    if (!first.has_value()) {
      first = key;
      slot = key_slot;
    } else if (key_slot != slot) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a MULTI/EXEC block must keep to one hash slot, but \"", *first,
          "\" is in slot ", slot, " and \"", *key, "\" in slot ", key_slot));
    }
  }
  if (!first.has_value()) {
    return absl::InvalidArgumentError(
        "a MULTI/EXEC block names no key, so no slot to run on");
  }
  return slot;
}

void SlotMap::Assign(const std::vector<SlotRange>& ranges) {
  slots_.fill(-1);
  nodes_.clear();
  served_ = 0;
  for (const SlotRange& range : ranges) {
    const int index = IndexOf(range.primary);
    for (int slot = range.first; slot <= range.last; ++slot) {
      if (slots_[slot] < 0) ++served_;
      slots_[slot] = static_cast<int16_t>(index);
    }
  }
}

void SlotMap::Set(int slot, const RedisAddress& primary) {
  if (slot < 0 || slot >= kClusterSlots) return;
  if (slots_[slot] < 0) ++served_;
  slots_[slot] = static_cast<int16_t>(IndexOf(primary));
}

const RedisAddress* SlotMap::NodeOf(int slot) const {
  if (slot < 0 || slot >= kClusterSlots || slots_[slot] < 0) return nullptr;
  return &nodes_[slots_[slot]];
}

std::vector<RedisAddress> SlotMap::Primaries() const {
  std::vector<bool> used(nodes_.size(), false);
  for (int16_t index : slots_) {
    if (index >= 0) used[index] = true;
  }
  std::vector<RedisAddress> primaries;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (used[i]) primaries.push_back(nodes_[i]);
  }
  return primaries;
}

int SlotMap::IndexOf(const RedisAddress& node) {
  auto it = std::find(nodes_.begin(), nodes_.end(), node);
  if (it != nodes_.end()) return static_cast<int>(it - nodes_.begin());
  nodes_.push_back(node);
  return static_cast<int>(nodes_.size() - 1);
}

}  // namespace makegood::redis
