// File: services/streams/stream_entry.cc
#include "services/streams/stream_entry.h"

#include <algorithm>
#include <utility>

namespace makegood::streams {

using redis::RedisReply;

std::string StreamEntry::Field(std::string_view field) const {
  for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
    if (fields.elements[i].str == field) return fields.elements[i + 1].str;
  }
  return "";
}

std::vector<StreamEntry> EntriesOfRead(
    const RedisReply& reply, const std::vector<std::string>& streams) {
  std::vector<StreamEntry> entries;
  for (const RedisReply& stream : reply.elements) {
    if (stream.elements.size() < 2) continue;
    auto it = std::find(streams.begin(), streams.end(), stream.elements[0].str);
    if (it == streams.end()) continue;
    const int index = static_cast<int>(it - streams.begin());
    for (const RedisReply& e : stream.elements[1].elements) {
      if (e.elements.empty()) continue;
      StreamEntry entry;
      entry.stream = index;
      entry.id = e.elements[0].str;
      if (e.elements.size() >= 2) entry.fields = e.elements[1];
      entries.push_back(std::move(entry));
    }
  }
  return entries;
}

}  // namespace makegood::streams
