// Tests services/redis/hiredis_conversion.h without a server: replies are
// parsed from RESP bytes by hiredis's own reader, so ConvertReply sees the
// redisReply objects a live connection would hand it.
#include "services/redis/hiredis_conversion.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "services/redis/redis_reply.h"

namespace makegood::redis {
namespace {

using Type = RedisReply::Type;

// Parses one reply from `resp` with hiredis and converts it.
RedisReply Parse(absl::string_view resp) {
  std::unique_ptr<redisReader, void (*)(redisReader*)> reader(
      redisReaderCreate(), &redisReaderFree);
  EXPECT_EQ(redisReaderFeed(reader.get(), resp.data(), resp.size()), REDIS_OK);
  void* raw = nullptr;
  EXPECT_EQ(redisReaderGetReply(reader.get(), &raw), REDIS_OK);
  EXPECT_NE(raw, nullptr) << "incomplete reply: " << resp;
  if (raw == nullptr) return RedisReply::Nil();
  std::unique_ptr<redisReply, void (*)(void*)> reply(
      static_cast<redisReply*>(raw), &freeReplyObject);
  return ConvertReply(*reply);
}

TEST(ConvertReply, CopiesABulkStringWithItsBinaryBytes) {
  RedisReply reply = Parse(absl::string_view("$5\r\na\0b\r\n\r\n", 12));
  EXPECT_EQ(reply.type, Type::kString);
  EXPECT_EQ(reply.str, std::string("a\0b\r\n", 5));
}

TEST(ConvertReply, TellsAStatusFromABulkString) {
  RedisReply reply = Parse("+OK\r\n");
  EXPECT_EQ(reply.type, Type::kStatus);
  EXPECT_EQ(reply.str, "OK");
  EXPECT_TRUE(reply.is_text());
}

TEST(ConvertReply, KeepsSixtyFourBitIntegers) {
  EXPECT_EQ(Parse(":-9223372036854775808\r\n").integer, INT64_MIN);
  RedisReply reply = Parse(":42\r\n");
  EXPECT_EQ(reply.type, Type::kInteger);
  EXPECT_EQ(reply.integer, 42);
}

TEST(ConvertReply, NilBulkAndNilArrayAreNil) {
  EXPECT_TRUE(Parse("$-1\r\n").is_nil());
  EXPECT_TRUE(Parse("*-1\r\n").is_nil());
}

TEST(ConvertReply, CopiesNestedArraysInOrder) {
  RedisReply reply = Parse("*3\r\n$3\r\nfoo\r\n*2\r\n:1\r\n$-1\r\n*0\r\n");
  ASSERT_EQ(reply.type, Type::kArray);
  ASSERT_EQ(reply.elements.size(), 3u);
  EXPECT_EQ(reply.elements[0].type, Type::kString);
  EXPECT_EQ(reply.elements[0].str, "foo");
  ASSERT_EQ(reply.elements[1].type, Type::kArray);
  ASSERT_EQ(reply.elements[1].elements.size(), 2u);
  EXPECT_EQ(reply.elements[1].elements[0].integer, 1);
  EXPECT_TRUE(reply.elements[1].elements[1].is_nil());
  EXPECT_EQ(reply.elements[2].type, Type::kArray);
  EXPECT_TRUE(reply.elements[2].elements.empty());
}

// A script's pcall error or one failed command of a MULTI comes back nested
// in an array: it stays in the reply, with its text, for the caller to read.
TEST(ConvertReply, KeepsAnErrorNestedInAnArray) {
  RedisReply reply = Parse("*2\r\n+OK\r\n-WRONGTYPE bad key\r\n");
  ASSERT_EQ(reply.type, Type::kArray);
  ASSERT_EQ(reply.elements.size(), 2u);
  EXPECT_EQ(reply.elements[1].type, Type::kError);
  EXPECT_EQ(reply.elements[1].str, "WRONGTYPE bad key");
  EXPECT_FALSE(reply.elements[1].is_text());
}

TEST(ErrorReplyToStatus, ErrorsThatPassByThemselvesAreUnavailable) {
  for (absl::string_view text : {
           "LOADING Redis is loading the dataset in memory",
           "BUSY Redis is busy running a script",
           "READONLY You can't write against a read only replica.",
           "MASTERDOWN Link with MASTER is down",
           "OOM command not allowed when used memory > 'maxmemory'.",
           "TRYAGAIN Multiple keys request during rehashing of slot",
           "NOREPLICAS Not enough good replicas to write.",
           "CLUSTERDOWN The cluster is down",
       }) {
    absl::Status status = ErrorReplyToStatus(text);
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << text;
    EXPECT_EQ(status.message(), absl::StrCat("redis: ", text));
  }
}

TEST(ErrorReplyToStatus, OtherErrorsAreInternalWithTheirText) {
  for (absl::string_view text : {
           "ERR unknown command 'FOO'",
           "WRONGTYPE Operation against a key holding the wrong kind of value",
           "NOSCRIPT No matching script. Please use EVAL.",
           "ERR Error running script: LOADING is only a word here",
           "",
       }) {
    absl::Status status = ErrorReplyToStatus(text);
    EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << text;
    EXPECT_EQ(status.message(), absl::StrCat("redis: ", text));
  }
}

// The prefix is Redis's error code, which is upper case; a lower-case word is
// some other error's text.
TEST(ErrorReplyToStatus, MatchesTheErrorCodeOnlyAtTheStart) {
  EXPECT_EQ(ErrorReplyToStatus("loading").code(), absl::StatusCode::kInternal);
  EXPECT_EQ(ErrorReplyToStatus("ERR READONLY").code(),
            absl::StatusCode::kInternal);
}

// hiredis never connects here (the socket path does not exist), but it still
// queues what it is given in its output buffer, which is what would go on
// the wire; freeing the context answers the queued command with no reply.
TEST(SendArgv, QueuesArgumentsBinarySafeAndAnswersWithTheirPrivdata) {
  redisAsyncContext* ctx =
      redisAsyncConnectUnix("/nonexistent/makegood-hiredis-conversion-test");
  ASSERT_NE(ctx, nullptr);
  struct Seen {
    int calls = 0;
    void* reply = reinterpret_cast<void*>(1);
  } seen;
  auto on_reply = [](redisAsyncContext*, void* reply, void* privdata) {
    auto* s = static_cast<Seen*>(privdata);
    ++s->calls;
    s->reply = reply;
  };
  const std::vector<std::string> args = {"SET", std::string("k\0y", 3), ""};
  ASSERT_EQ(SendArgv(ctx, on_reply, &seen, args), REDIS_OK);
  EXPECT_EQ(std::string(ctx->c.obuf, sdslen(ctx->c.obuf)),
            std::string("*3\r\n$3\r\nSET\r\n$3\r\nk\0y\r\n$0\r\n\r\n", 28));
  redisAsyncFree(ctx);
  EXPECT_EQ(seen.calls, 1);
  EXPECT_EQ(seen.reply, nullptr);
}

}  // namespace
}  // namespace makegood::redis
