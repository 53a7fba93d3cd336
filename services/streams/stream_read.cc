// File: services/streams/stream_read.cc
#include "services/streams/stream_read.h"

#include <map>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "services/redis/key_slot.h"

namespace makegood::streams {
namespace {

// The read of `streams[indexes]` as one command.
std::vector<std::string> Argv(const StreamRead& read,
                              const std::vector<size_t>& indexes,
                              absl::Duration block) {
  std::vector<std::string> argv = read.head;
  if (block > absl::ZeroDuration()) {
    argv.push_back("BLOCK");
    argv.push_back(absl::StrCat(absl::ToInt64Milliseconds(block)));
  }
  argv.push_back("STREAMS");
  for (size_t i : indexes) argv.push_back(read.streams[i]);
  for (size_t i : indexes) argv.push_back(read.ids[i]);
  return argv;
}

}  // namespace

bool ReadByNotifications(const redis::RedisClient& client,
                         const redis::KeyspaceNotifications* notes) {
  return notes != nullptr &&
         (client.one_slot_per_command() || notes->enabled());
}

StreamReadResult ReadStreams(redis::RedisClient& client,
                             const StreamRead& read) {
  StreamReadResult result;
  if (read.streams.empty()) return result;
  if (read.ids.size() != read.streams.size()) {
    result.status =
        absl::InvalidArgumentError("stream read: one id per stream is needed");
    return result;
  }
  if (!client.one_slot_per_command()) {
    std::vector<size_t> all(read.streams.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    auto reply = client.CommandSync(Argv(read, all, read.block));
    if (!reply.ok()) {
      result.status = reply.status();
    } else {
      result.entries = EntriesOfRead(*reply, read.streams);
    }
    return result;
  }
  // The streams of each slot (makegood's are one per partition, and so one
  // per slot, but streams of one partition may be read together).
  std::map<int, std::vector<size_t>> by_slot;
  for (size_t i = 0; i < read.streams.size(); ++i) {
    by_slot[redis::KeySlot(read.streams[i])].push_back(i);
  }
  struct Answers {
    absl::Mutex mu;
    std::vector<std::pair<const std::vector<size_t>*,
                          absl::StatusOr<redis::RedisReply>>>
        replies ABSL_GUARDED_BY(mu);
  };
  auto answers = std::make_shared<Answers>();
  auto counter =
      std::make_shared<absl::BlockingCounter>(static_cast<int>(by_slot.size()));
  for (const auto& slot_streams : by_slot) {
    const std::vector<size_t>* indexes = &slot_streams.second;
    client.Command(
        Argv(read, *indexes, absl::ZeroDuration()),
        [answers, counter, indexes](absl::StatusOr<redis::RedisReply> reply) {
          {
            absl::MutexLock lock(&answers->mu);
            answers->replies.emplace_back(indexes, std::move(reply));
          }
          counter->DecrementCount();
        });
  }
  counter->Wait();
  absl::MutexLock lock(&answers->mu);
  for (auto& [indexes, reply] : answers->replies) {
    if (!reply.ok()) {
      if (result.status.ok()) result.status = reply.status();
      continue;
    }
    std::vector<std::string> names;
    for (size_t i : *indexes) names.push_back(read.streams[i]);
    for (StreamEntry& entry : EntriesOfRead(*reply, names)) {
      entry.stream = static_cast<int>((*indexes)[entry.stream]);
      result.entries.push_back(std::move(entry));
    }
  }
  return result;
}

}  // namespace makegood::streams
