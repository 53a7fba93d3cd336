// File: services/streams/stream_entry.h
//
// An entry read from a Redis stream, and the reading of XREAD / XREADGROUP
// replies into entries: shared by the stream consumer, the read over
// several streams (stream_read.h) and the refund feed.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "services/redis/redis_reply.h"

namespace makegood::streams {

// One entry of one of the streams read.
struct StreamEntry {
  int stream = 0;  // Index into the streams read (ConsumerOptions::streams).
  std::string id;
  // [k, v, k, v, ...]; nil if the entry was deleted (trimmed) while pending.
  redis::RedisReply fields;
  // Deliveries so far, this one included; known (from XPENDING) only for
  // reclaimed entries when max_deliveries is set, else 1.
  int64_t deliveries = 1;
  bool reclaimed = false;  // Taken over with XAUTOCLAIM.

  // The value of `field`, or "" if absent.
  std::string Field(std::string_view field) const;
};

// Entries of an XREADGROUP / XREAD reply ([[stream, [[id, fields], ...]],
// ...], or nil when the block timed out) on `streams`; entries of streams
// not in `streams` are ignored.
std::vector<StreamEntry> EntriesOfRead(const redis::RedisReply& reply,
                                       const std::vector<std::string>& streams);

}  // namespace makegood::streams
