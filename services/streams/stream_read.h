// File: services/streams/stream_read.h
//
// One read (XREAD or XREADGROUP) over several streams, on a single Redis or
// on a Redis Cluster. On a single Redis it is one command, blocking up to
// `block` for new entries. On a cluster one command may name keys of one
// hash slot only (CROSSSLOT otherwise, even when two slots share a node:
// ../shared/CLUSTER.md), so the streams are read slot by slot: one command
// per slot, all sent at once (pipelined per node by the client), none
// blocking, since a blocked command would stall everything pipelined behind
// it on its node's connection. The caller waits between empty reads
// (StreamConsumer, RefundFeed).
//
// Example:
//   StreamRead read{.head = {"XREADGROUP", "GROUP", group, consumer,
//                            "COUNT", "100"},
//                   .streams = keys, .ids = std::vector(keys.size(), ">"),
//                   .block = absl::Milliseconds(500)};
//   StreamReadResult result = ReadStreams(client, read);
//
// Thread-safety: a plain function; the client is thread-safe.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/redis/keyspace_notifications.h"
#include "services/redis/redis_client.h"
#include "services/streams/stream_entry.h"

namespace makegood::streams {

struct StreamRead {
  // The command up to BLOCK / STREAMS, e.g. {"XREAD", "COUNT", "1000"}.
  std::vector<std::string> head;
  std::vector<std::string> streams;
  std::vector<std::string> ids;  // One per stream: where to read after.
  // Single Redis only: how long to wait for new entries; zero: no BLOCK.
  absl::Duration block = absl::ZeroDuration();
};

struct StreamReadResult {
  // Entries of every stream that answered; StreamEntry::stream indexes
  // StreamRead::streams, and entries of one stream are in stream order.
  std::vector<StreamEntry> entries;
  // OK, or the first error (on a cluster the other slots' entries are
  // still in `entries`: XREADGROUP has delivered them).
  absl::Status status;
};

// Whether a reader of several streams reads only those `notes` says got
// entries, without blocking, and waits on `notes` in between: always on a
// cluster (one command cannot block over several slots), elsewhere only while
// notifications are on; otherwise it blocks on a read of every stream. False
// without `notes`. Shared by StreamConsumer and store::RefundFeed.
bool ReadByNotifications(const redis::RedisClient& client,
                         const redis::KeyspaceNotifications* notes);

// Never call it from a client callback or a gRPC handler.
StreamReadResult ReadStreams(redis::RedisClient& client,
                             const StreamRead& read);

}  // namespace makegood::streams
