#include "services/store/attention_page_script.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace makegood::store {
namespace {

constexpr char kScript[] = "attention_page";

}  // namespace

ScriptCall BuildAttentionPageCall(const KeySchema& keys,
                                  const AttentionPageRequest& request) {
  ScriptCall call;
  call.keys = {keys.AttentionKey(request.partition)};
  call.args = {request.cursor_ms, request.cursor_id,
               absl::StrCat(request.count)};
  return call;
}

absl::StatusOr<AttentionPageReply> ParseAttentionPageReply(
    const redis::RedisReply& reply) {
  auto elements = ArrayReply(reply, 1, kScript);
  if (!elements.ok()) return elements.status();
  auto total = IntegerAt(**elements, 0, kScript, "count");
  if (!total.ok()) return total.status();
  auto entries = IndexEntriesFrom(**elements, 1, kScript);
  if (!entries.ok()) return entries.status();
  return AttentionPageReply{.total = *total, .entries = *std::move(entries)};
}

}  // namespace makegood::store
