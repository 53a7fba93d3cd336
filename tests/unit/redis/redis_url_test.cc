#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/redis/redis_client.h"
#include "services/redis/redis_options.h"

namespace makegood::redis {
namespace {

using ::testing::HasSubstr;

// Parses `url` into default options, expecting success.
RedisOptions Parse(const std::string& url) {
  RedisOptions options;
  absl::Status status = ParseRedisUrl(url, &options);
  EXPECT_TRUE(status.ok()) << url << ": " << status;
  return options;
}

TEST(ParseRedisUrl, ReadsHostPortAndDatabase) {
  RedisOptions options = Parse("redis://cache.internal:6380/3");
  EXPECT_EQ(options.host, "cache.internal");
  EXPECT_EQ(options.port, 6380);
  EXPECT_EQ(options.db, 3);
  EXPECT_EQ(options.username, "");
  EXPECT_EQ(options.password, "");
}

TEST(ParseRedisUrl, DefaultsToPort6379AndDatabaseZero) {
  RedisOptions options = Parse("redis://10.0.0.5");
  EXPECT_EQ(options.host, "10.0.0.5");
  EXPECT_EQ(options.port, 6379);
  EXPECT_EQ(options.db, 0);

  EXPECT_EQ(Parse("redis://h/").db, 0);
  EXPECT_EQ(Parse("redis://h/").host, "h");
}

TEST(ParseRedisUrl, ResetsAddressFieldsAnEarlierUrlSet) {
  RedisOptions options;
  options.port = 7000;
  options.db = 5;
  options.username = "old-user";
  options.password = "old-password";
  ASSERT_TRUE(ParseRedisUrl("redis://h", &options).ok());
  EXPECT_EQ(options.port, 6379);
  EXPECT_EQ(options.db, 0);
  EXPECT_EQ(options.username, "");
  EXPECT_EQ(options.password, "");
}

TEST(ParseRedisUrl, KeepsTheNonAddressFields) {
  RedisOptions options;
  options.connections = 7;
  options.command_timeout = absl::Milliseconds(250);
  options.max_outstanding = 12;
  ASSERT_TRUE(ParseRedisUrl("redis://h:1/2", &options).ok());
  EXPECT_EQ(options.connections, 7);
  EXPECT_EQ(options.command_timeout, absl::Milliseconds(250));
  EXPECT_EQ(options.max_outstanding, 12);
}

TEST(ParseRedisUrl, ReadsUserAndPassword) {
  RedisOptions options = Parse("redis://alice:s3cret@h:6390/1");
  EXPECT_EQ(options.username, "alice");
  EXPECT_EQ(options.password, "s3cret");
  EXPECT_EQ(options.host, "h");
  EXPECT_EQ(options.port, 6390);
  EXPECT_EQ(options.db, 1);
}

TEST(ParseRedisUrl, ReadsPasswordWithoutUser) {
  RedisOptions options = Parse("redis://:s3cret@h");
  EXPECT_EQ(options.username, "");
  EXPECT_EQ(options.password, "s3cret");
  EXPECT_EQ(options.host, "h");
}

TEST(ParseRedisUrl, KeepsAtSignsColonsAndSlashesInsideThePassword) {
  RedisOptions options = Parse("redis://u:p@s:s/w@h:1/2");
  EXPECT_EQ(options.username, "u");
  EXPECT_EQ(options.password, "p@s:s/w");
  EXPECT_EQ(options.host, "h");
  EXPECT_EQ(options.port, 1);
  EXPECT_EQ(options.db, 2);
}

TEST(ParseRedisUrl, ReadsBracketedIpv6Hosts) {
  RedisOptions options = Parse("redis://[::1]:6380/4");
  EXPECT_EQ(options.host, "::1");
  EXPECT_EQ(options.port, 6380);
  EXPECT_EQ(options.db, 4);

  RedisOptions no_port = Parse("redis://:pw@[2001:db8::7]");
  EXPECT_EQ(no_port.host, "2001:db8::7");
  EXPECT_EQ(no_port.port, 6379);
  EXPECT_EQ(no_port.password, "pw");
}

TEST(ParseRedisUrl, AcceptsTheBoundsOfPortAndDatabase) {
  EXPECT_EQ(Parse("redis://h:1").port, 1);
  EXPECT_EQ(Parse("redis://h:65535").port, 65535);
  EXPECT_EQ(Parse("redis://h/0").db, 0);
  EXPECT_EQ(Parse("redis://h/1000").db, 1000);
}

// Each bad URL is INVALID_ARGUMENT with a message naming the URL, saying what
// is wrong, and showing the expected form; the options stay untouched.
TEST(ParseRedisUrl, RefusesBadUrlsSayingWhy) {
  struct Case {
    const char* url;
    const char* why;
  };
  for (const Case& c : {
           Case{"", "must start with redis://"},
           Case{"http://h:6379", "must start with redis://"},
           Case{"rediss://h", "must start with redis://"},
           Case{"redis://", "host is empty"},
           Case{"redis://:6379", "host is empty"},
           Case{"redis://u:p@", "host is empty"},
           Case{"redis://[]:6379", "host is empty"},
           Case{"redis://h:port", "port must be a number"},
           Case{"redis://h:0", "port out of range"},
           Case{"redis://h:65536", "port out of range"},
           Case{"redis://h:-1", "port must be a number"},
           Case{"redis://h/x", "database must be a number 0-1000"},
           Case{"redis://h/-1", "database must be a number 0-1000"},
           Case{"redis://h/1001", "database must be a number 0-1000"},
           Case{"redis://h/1/2", "database must be a number 0-1000"},
           Case{"redis://alice@h", "credentials must be user:password"},
           Case{"redis://[::1", "unclosed [ in host"},
           Case{"redis://[::1]6379", "unexpected text after ]"},
       }) {
    RedisOptions options;
    options.host = "unchanged";
    options.port = 1234;
    absl::Status status = ParseRedisUrl(c.url, &options);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.url;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.why)) << c.url;
    EXPECT_THAT(std::string(status.message()),
                HasSubstr(absl::StrCat("\"", c.url, "\"")));
    EXPECT_THAT(std::string(status.message()),
                HasSubstr("redis://[[user]:password@]host[:port][/db]"));
    EXPECT_EQ(options.host, "unchanged") << c.url;
    EXPECT_EQ(options.port, 1234) << c.url;
  }
}

// Bug found by this test (fixed): "redis://2001:db8::1" parsed as host
// "2001:db8:" port 1. A host may contain ':' only inside [brackets].
TEST(ParseRedisUrl, RefusesUnbracketedIpv6Hosts) {
  for (const char* url : {"redis://2001:db8::1", "redis://::1"}) {
    RedisOptions options;
    absl::Status status = ParseRedisUrl(url, &options);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
        << url << " parsed as host \"" << options.host << "\" port "
        << options.port;
  }
}

TEST(ParseRedisUrl, RefusesSignsSpacesAndEmptyPorts) {
  for (const char* url : {"redis://h: 6380", "redis://h:+6380", "redis://h/ 3",
                          "redis://a b", "redis://h:"}) {
    RedisOptions options;
    EXPECT_EQ(ParseRedisUrl(url, &options).code(),
              absl::StatusCode::kInvalidArgument)
        << url;
  }
}

// Found by tests/fuzz/redis_url_fuzzer: "redis-sentinel://[[fd0]/m" was
// accepted with the sentinel host "[fd0", which FormatRedisAddress writes
// as "[fd0:26379" (and which no URL can name again); control characters
// were accepted too, and "[f08%%2]" (brackets without an IPv6 address),
// written back without brackets. A host is a name or a bracketed IPv6
// address.
TEST(ParseRedisUrl, HostWithBracketOrControlCharacterIsRefused) {
  for (const char* url :
       {"redis://[[fd0]:6379", "redis://a[b:6379", "redis://a]b",
        "redis://h\tx", "redis://h\nx:1", "redis://h?x=1",
        "redis://[::1\x01]:6379", "redis-sentinel://[[fd0]/m",
        "redis-sentinel://s1,a\x7f"
        "b/m",
        "redis://[abc]:6379", "redis-sentinel://b,[f08%%2]/m"}) {
    RedisOptions options;
    options.host = "unchanged";
    absl::Status status = ParseRedisUrl(url, &options);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
        << url << " parsed as host \"" << options.host << "\"";
    EXPECT_THAT(std::string(status.message()), HasSubstr("host must be"))
        << url;
    EXPECT_EQ(options.host, "unchanged");
  }
  for (const char* url : {"redis://cache-1.redis_svc.internal:6379",
                          "redis://[fe80::1%eth0]:6379", "redis://[::1]"}) {
    RedisOptions options;
    EXPECT_TRUE(ParseRedisUrl(url, &options).ok()) << url;
  }
}

TEST(ParseRedisUrl, ReadsTheNodesOfAClusterUrl) {
  RedisOptions options =
      Parse("redis-cluster://u:p@10.0.0.1:7000,node-b,[::1]:7002");
  EXPECT_EQ(options.cluster_nodes,
            (std::vector<RedisAddress>{
                {"10.0.0.1", 7000}, {"node-b", 6379}, {"::1", 7002}}));
  EXPECT_EQ(options.username, "u");
  EXPECT_EQ(options.password, "p");
  EXPECT_EQ(options.db, 0);
  EXPECT_EQ(options.host, "");
  EXPECT_TRUE(options.sentinels.empty());
  EXPECT_EQ(DescribeRedisTarget(options),
            "cluster 10.0.0.1:7000,node-b:6379,[::1]:7002");
}

TEST(ParseRedisUrl, ADirectUrlClearsTheClusterNodesOfAnEarlierOne) {
  RedisOptions options = Parse("redis-cluster://h:7000");
  ASSERT_TRUE(ParseRedisUrl("redis://h:6379", &options).ok());
  EXPECT_TRUE(options.cluster_nodes.empty());
  EXPECT_EQ(options.host, "h");
}

TEST(ParseRedisUrl, RefusesBadClusterUrlsSayingWhy) {
  struct Case {
    const char* url;
    const char* why;
  };
  for (const Case& c : {
           Case{"redis-cluster://", "node 1: host is empty"},
           Case{"redis-cluster://a:7000,", "node 2: host is empty"},
           Case{"redis-cluster://a:7000,b:x", "node 2: port must be a number"},
           Case{"redis-cluster://a:7000/0", "Redis Cluster has only db 0"},
           Case{"redis-cluster://a:7000?x=1", "takes no parameters"},
           Case{"redis-cluster://alice@a:7000", "credentials must be"},
           Case{"redis-clusters://a:7000", "must start with redis://"},
       }) {
    RedisOptions options;
    options.host = "unchanged";
    absl::Status status = ParseRedisUrl(c.url, &options);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.url;
    EXPECT_THAT(status.message(), HasSubstr(c.why)) << c.url;
    EXPECT_THAT(status.message(), HasSubstr(c.url)) << c.url;
    EXPECT_EQ(options.host, "unchanged") << c.url;
    EXPECT_TRUE(options.cluster_nodes.empty()) << c.url;
  }
}

}  // namespace
}  // namespace makegood::redis
