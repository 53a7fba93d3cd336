// File: services/streams/membership.cc
#include "services/streams/membership.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/streams/lua/scripts.h"

namespace makegood::streams {
namespace {

// FNV-1a, then SplitMix64's finalizer so nearby inputs spread over all bits.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

uint64_t Weight(absl::string_view member, int stream) {
  uint64_t h = 0xcbf29ce484222325ULL;
  auto add = [&h](unsigned char c) {
    h ^= c;
    h *= 0x100000001b3ULL;
  };
  for (char c : member) add(static_cast<unsigned char>(c));
  add(0);  // So ("a1", 2) and ("a", 12) differ.
  for (int shift = 0; shift < 32; shift += 8) {
    add(static_cast<unsigned char>((static_cast<uint32_t>(stream) >> shift) &
                                   0xff));
  }
  return Mix(h);
}

std::vector<bool> OwnedStreams(const std::vector<std::string>& live,
                               absl::string_view me, int streams) {
  std::vector<bool> owned(static_cast<size_t>(std::max(streams, 0)), false);
  if (std::find(live.begin(), live.end(), me) == live.end()) return owned;
  for (int s = 0; s < streams; ++s) {
    const uint64_t mine = Weight(me, s);
    bool best = true;
    for (const std::string& other : live) {
      if (other == me) continue;
      const uint64_t theirs = Weight(other, s);
      // Ties (never seen in practice) go to the smaller name.
      if (theirs > mine || (theirs == mine && other < me)) {
        best = false;
        break;
      }
    }
    owned[static_cast<size_t>(s)] = best;
  }
  return owned;
}

Membership::Membership(redis::RedisClient& redis, std::string members_key,
                       std::string me, int streams, absl::Duration ttl)
    : redis_(redis),
      members_key_(std::move(members_key)),
      me_(std::move(me)),
      streams_(streams),
      ttl_(ttl),
      owned_(static_cast<size_t>(std::max(streams, 0)), false) {}

absl::StatusOr<std::vector<std::string>> Membership::Call(absl::Duration ttl) {
  absl::StatusOr<redis::RedisReply> reply =
      redis_.EvalSync(scripts::kMembership, {members_key_},
                      {me_, absl::StrCat(absl::ToInt64Milliseconds(ttl))});
  if (!reply.ok()) return reply.status();
  if (reply->type != redis::RedisReply::Type::kArray) {
    return absl::InternalError("malformed membership reply: not an array");
  }
  std::vector<std::string> live;
  for (const redis::RedisReply& e : reply->elements) {
    if (!e.is_text()) {
      return absl::InternalError(
          "malformed membership reply: a name is not text");
    }
    live.push_back(e.str);
  }
  std::sort(live.begin(), live.end());
  return live;
}

absl::Status Membership::Beat() {
  absl::StatusOr<std::vector<std::string>> live =
      Call(std::max(ttl_, absl::Milliseconds(1)));
  if (!live.ok()) return live.status();
  live_ = *std::move(live);
  owned_ = OwnedStreams(live_, me_, streams_);
  return absl::OkStatus();
}

absl::Status Membership::Leave() {
  owned_.assign(owned_.size(), false);
  live_.clear();
  absl::StatusOr<std::vector<std::string>> left = Call(absl::ZeroDuration());
  return left.status();
}

}  // namespace makegood::streams
