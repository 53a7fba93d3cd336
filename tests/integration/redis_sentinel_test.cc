// Integration tests of redis::HiredisClient in sentinel mode.
//
// RedisSentinelFailover runs real redis-servers (a primary and a replica) and
// real Redis Sentinels, and fails the primary over. RedisSentinelClient uses
// real redis-servers but a scripted stand-in sentinel (FakeSentinel), where a
// test must choose what the sentinel says. RedisSentinelUrl covers the
// redis-sentinel:// URL form.
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/redis/hiredis_client.h"
#include "services/redis/keyspace_notifications.h"
#include "tests/testing/redis_counters.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/subprocess.h"

namespace makegood::store {
namespace {

using ::makegood::testing::PickFreePort;
using ::makegood::testing::RedisCounters;
using ::makegood::testing::RedisServer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr absl::string_view kMaster = "mymaster";

// ---- URL ------------------------------------------------------------------

TEST(RedisSentinelUrl, ReadsSentinelsMasterDatabaseAndPasswords) {
  redis::RedisOptions options;
  ASSERT_TRUE(redis::ParseRedisUrl("redis-sentinel://u:p@w@s1:26380,s2,[::1]:7/"
                                   "mymaster/3?sentinel_password=s:p@ss",
                                   &options)
                  .ok());
  EXPECT_THAT(options.sentinels, ElementsAre(redis::RedisAddress{"s1", 26380},
                                             redis::RedisAddress{"s2", 26379},
                                             redis::RedisAddress{"::1", 7}));
  EXPECT_EQ(options.sentinel_master, "mymaster");
  EXPECT_EQ(options.db, 3);
  EXPECT_EQ(options.username, "u");
  EXPECT_EQ(options.password, "p@w");
  EXPECT_EQ(options.sentinel_password, "s:p@ss");
  EXPECT_EQ(options.host, "");
  EXPECT_EQ(redis::DescribeRedisTarget(options),
            "sentinel mymaster@s1:26380,s2:26379,[::1]:7/3");
}

TEST(RedisSentinelUrl, DefaultsToDatabaseZeroAndNoPasswords) {
  redis::RedisOptions options;
  ASSERT_TRUE(redis::ParseRedisUrl("redis-sentinel://s/m", &options).ok());
  EXPECT_THAT(options.sentinels, ElementsAre(redis::RedisAddress{"s", 26379}));
  EXPECT_EQ(options.sentinel_master, "m");
  EXPECT_EQ(options.db, 0);
  EXPECT_EQ(options.password, "");
  EXPECT_EQ(options.sentinel_password, "");
}

TEST(RedisSentinelUrl, ARedisUrlAfterwardsLeavesSentinelMode) {
  redis::RedisOptions options;
  ASSERT_TRUE(
      redis::ParseRedisUrl("redis-sentinel://s/m?sentinel_password=x", &options)
          .ok());
  ASSERT_TRUE(redis::ParseRedisUrl("redis://h:6380", &options).ok());
  EXPECT_TRUE(options.sentinels.empty());
  EXPECT_EQ(options.sentinel_master, "");
  EXPECT_EQ(options.sentinel_password, "");
  EXPECT_EQ(options.host, "h");
  EXPECT_EQ(redis::DescribeRedisTarget(options), "h:6380/0");
}

TEST(RedisSentinelUrl, RefusesBadSentinelUrlsSayingWhy) {
  struct Case {
    const char* url;
    const char* why;
  };
  for (const Case& c : {
           Case{"redis-sentinel://s", "the master name is missing"},
           Case{"redis-sentinel://s/", "the master name is missing"},
           Case{"redis-sentinel://s//0", "the master name is missing"},
           Case{"redis-sentinel:///m", "sentinel 1: host is empty"},
           Case{"redis-sentinel://s,/m", "sentinel 2: host is empty"},
           Case{"redis-sentinel://s:0/m", "sentinel 1: port out of range"},
           Case{"redis-sentinel://s:x/m", "sentinel 1: port must be a number"},
           Case{"redis-sentinel://s/m/x", "database must be a number"},
           Case{"redis-sentinel://s/m?password=x", "master name must not"},
           Case{"redis-sentinel://alice@s/m", "credentials must be"},
       }) {
    redis::RedisOptions options;
    options.host = "unchanged";
    absl::Status status = redis::ParseRedisUrl(c.url, &options);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.url;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.why)) << c.url;
    EXPECT_THAT(std::string(status.message()),
                HasSubstr(absl::StrCat("\"", c.url, "\"")));
    EXPECT_THAT(std::string(status.message()),
                HasSubstr("redis-sentinel://[[user]:password@]host[:port]"));
    EXPECT_EQ(options.host, "unchanged") << c.url;
    EXPECT_TRUE(options.sentinels.empty()) << c.url;
  }
}

TEST(RedisSentinelUrl, StartRefusesSentinelsWithoutAMasterName) {
  redis::RedisOptions options;
  options.sentinels = {{"127.0.0.1", 26379}};
  EXPECT_EQ(redis::HiredisClient::Start(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---- Helpers ----------------------------------------------------------------

// Waits (bounded) until `want` connections are ready. Connecting is
// asynchronous and has no completion callback to wait on.
void WaitReady(const redis::HiredisClient& client, int want,
               absl::Duration timeout = absl::Seconds(10)) {
  absl::Time deadline = absl::Now() + timeout;
  while (client.ready_connections() < want && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(client.ready_connections(), want);
}

// Servers in these tests replicate: start a full sync at once rather than
// after the default 5 s wait for more replicas.
absl::StatusOr<std::unique_ptr<RedisServer>> StartRedis(
    std::vector<std::string> extra_args = {}) {
  extra_args.insert(extra_args.end(), {"--repl-diskless-sync-delay", "0"});
  return RedisServer::Start(std::move(extra_args));
}

// A client of one server (direct mode), to look at it from outside.
std::unique_ptr<redis::HiredisClient> Direct(int port) {
  redis::RedisOptions options;
  options.port = port;
  options.connections = 1;
  options.command_timeout = absl::Seconds(2);
  auto client = redis::HiredisClient::Start(options);
  EXPECT_TRUE(client.ok()) << client.status();
  if (!client.ok()) return nullptr;
  WaitReady(**client, 1);
  return *std::move(client);
}

std::string SentinelUrl(const std::vector<int>& ports) {
  return absl::StrCat("redis-sentinel://",
                      absl::StrJoin(ports, ",",
                                    [](std::string* out, int port) {
                                      absl::StrAppend(out, "127.0.0.1:", port);
                                    }),
                      "/", kMaster);
}

// Options for the client under test: short timeouts, frequent checks.
redis::RedisOptions SentinelOptions(const std::vector<int>& sentinel_ports) {
  redis::RedisOptions options;
  absl::Status parsed =
      redis::ParseRedisUrl(SentinelUrl(sentinel_ports), &options);
  EXPECT_TRUE(parsed.ok()) << parsed;
  options.command_timeout = absl::Milliseconds(500);
  options.connect_timeout = absl::Milliseconds(500);
  options.sentinel_timeout = absl::Milliseconds(300);
  options.sentinel_check_interval = absl::Milliseconds(100);
  options.reconnect_max_backoff = absl::Milliseconds(100);
  return options;
}

// The value of `key` on the server behind `client`, "" if none or failing.
std::string Get(redis::HiredisClient& client, const std::string& key) {
  auto reply = client.CommandSync({"GET", key});
  return reply.ok() ? reply->str : "";
}

bool IsPrimary(redis::HiredisClient& client) {
  auto role = client.CommandSync({"ROLE"});
  return role.ok() && !role->elements.empty() &&
         role->elements[0].str == "master";
}

// Writes "<key>=<n>" through `client` with increasing n until a write lands
// on the server `target` looks at, or `timeout` passes. Every failure on
// the way must be UNAVAILABLE (the client is switching; callers retry).
// Returns whether a write landed there.
bool WriteUntilItLandsOn(redis::HiredisClient& client,
                         redis::HiredisClient& target, const std::string& key,
                         absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  for (int n = 0; absl::Now() < deadline; ++n) {
    // A replica shows what was written to its primary: only once `target`
    // is a primary itself does a value on it show where the client wrote.
    const bool target_is_primary = IsPrimary(target);
    std::string value = absl::StrCat("v", n);
    auto reply = client.CommandSync({"SET", key, value});
    if (!reply.ok()) {
      EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable)
          << reply.status();
    } else if (target_is_primary && Get(target, key) == value) {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

// ---- Real sentinels ---------------------------------------------------------

class RedisSentinelFailover : public ::testing::Test {
 protected:
  void SetUp() override {
    auto primary = StartRedis();
    ASSERT_TRUE(primary.ok()) << primary.status();
    primary_ = *std::move(primary);
    auto replica = StartRedis(
        {"--replicaof", "127.0.0.1", absl::StrCat(primary_->port())});
    ASSERT_TRUE(replica.ok()) << replica.status();
    replica_ = *std::move(replica);
    // Sentinels learn of replicas from the primary's INFO, so the replica is
    // in sync before they start.
    auto on_primary = Direct(primary_->port());
    ASSERT_NE(on_primary, nullptr);
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      auto info = on_primary->CommandSync({"INFO", "replication"});
      if (info.ok() && absl::StrContains(info->str, "state=online")) break;
      absl::SleepFor(absl::Milliseconds(20));
    }

    // One sentinel (quorum 1, quick to act): with more, a failover needs a
    // majority of them to elect a leader, which can take another round.
    auto sentinel = RedisServer::StartSentinel(absl::StrCat(
        "sentinel monitor ", kMaster, " 127.0.0.1 ", primary_->port(), " 1\n",
        "sentinel down-after-milliseconds ", kMaster, " 1000\n",
        "sentinel failover-timeout ", kMaster, " 3000\n"));
    ASSERT_TRUE(sentinel.ok()) << sentinel.status();
    sentinel_ = *std::move(sentinel);
    absl::StatusOr<int> dead_port = PickFreePort();
    ASSERT_TRUE(dead_port.ok());
    dead_port_ = *dead_port;
  }

  // The port `sentinel` names for the primary.
  static int NamedPrimary(redis::HiredisClient& sentinel) {
    auto reply = sentinel.CommandSync(
        {"SENTINEL", "get-master-addr-by-name", std::string(kMaster)});
    int port = 0;
    if (reply.ok() && reply->elements.size() == 2) {
      (void)absl::SimpleAtoi(reply->elements[1].str, &port);
    }
    return port;
  }

  // Waits until `sentinel` sees the replica up and linked to the primary,
  // so that it can promote it.
  static void WaitUntilReplicaIsPromotable(redis::HiredisClient& sentinel) {
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      auto replicas =
          sentinel.CommandSync({"SENTINEL", "REPLICAS", std::string(kMaster)});
      if (replicas.ok() && replicas->elements.size() == 1) {
        const auto& fields = replicas->elements[0].elements;
        bool slave = false;
        bool link_ok = false;
        for (size_t i = 0; i + 1 < fields.size(); i += 2) {
          if (fields[i].str == "flags") slave = fields[i + 1].str == "slave";
          if (fields[i].str == "master-link-status") {
            link_ok = fields[i + 1].str == "ok";
          }
        }
        if (slave && link_ok) return;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    FAIL() << "the sentinel never saw a promotable replica";
  }

  // Once the replica is promotable, asks `sentinel` for a manual failover,
  // retried while the sentinel is still looking at the replica.
  static void FailOver(redis::HiredisClient& sentinel) {
    WaitUntilReplicaIsPromotable(sentinel);
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    absl::StatusOr<redis::RedisReply> failover;
    do {
      failover =
          sentinel.CommandSync({"SENTINEL", "FAILOVER", std::string(kMaster)});
      if (failover.ok()) break;
      absl::SleepFor(absl::Milliseconds(50));
    } while (absl::Now() < deadline);
    ASSERT_TRUE(failover.ok()) << failover.status();
  }

  // `options` reporting to counters_.
  redis::RedisOptions Counted(redis::RedisOptions options) {
    options.observer = &counters_;
    return options;
  }

  RedisCounters counters_;  // Outlives the tests' clients.
  std::unique_ptr<RedisServer> primary_;
  std::unique_ptr<RedisServer> replica_;
  std::unique_ptr<RedisServer> sentinel_;
  int dead_port_ = 0;  // A sentinel that is down: nothing listens there.
};

TEST_F(RedisSentinelFailover, WritesGoToThePrimaryASentinelNames) {
  auto client = redis::HiredisClient::Start(
      Counted(SentinelOptions({dead_port_, sentinel_->port()})));
  ASSERT_TRUE(client.ok()) << client.status();
  WaitReady(**client, 2);

  ASSERT_TRUE((*client)->CommandSync({"SET", "k", "through-sentinel"}).ok());
  auto on_primary = Direct(primary_->port());
  EXPECT_EQ(Get(*on_primary, "k"), "through-sentinel");
  auto role = (*client)->CommandSync({"ROLE"});
  ASSERT_TRUE(role.ok());
  EXPECT_EQ(role->elements[0].str, "master");
  EXPECT_EQ(counters_.primary_changes.load(), 0u);
}

TEST_F(RedisSentinelFailover, FollowsAManualFailoverWithoutARestart) {
  auto client = redis::HiredisClient::Start(
      Counted(SentinelOptions({sentinel_->port()})));
  ASSERT_TRUE(client.ok()) << client.status();
  WaitReady(**client, 2);
  auto on_primary = Direct(primary_->port());
  ASSERT_TRUE(
      WriteUntilItLandsOn(**client, *on_primary, "k", absl::Seconds(2)));

  auto sentinel = Direct(sentinel_->port());
  ASSERT_NO_FATAL_FAILURE(FailOver(*sentinel));

  // The old primary stays a writable primary for ~10 s after the switch,
  // until Sentinel demotes it: the client must leave it by itself.
  auto on_replica = Direct(replica_->port());
  EXPECT_TRUE(
      WriteUntilItLandsOn(**client, *on_replica, "k", absl::Seconds(15)));
  EXPECT_EQ(NamedPrimary(*sentinel), replica_->port());
  EXPECT_GE(counters_.primary_changes.load(), 1u);
  // And it stays there.
  for (int i = 0; i < 20; ++i) {
    std::string value = absl::StrCat("after-", i);
    ASSERT_TRUE((*client)->CommandSync({"SET", "k", value}).ok());
    EXPECT_EQ(Get(*on_replica, "k"), value);
  }
}

TEST_F(RedisSentinelFailover, FollowsThePromotedReplicaWhenThePrimaryDies) {
  auto client = redis::HiredisClient::Start(
      SentinelOptions({dead_port_, sentinel_->port()}));
  ASSERT_TRUE(client.ok()) << client.status();
  WaitReady(**client, 2);
  ASSERT_TRUE((*client)->CommandSync({"SET", "k", "before"}).ok());
  auto sentinel = Direct(sentinel_->port());
  WaitUntilReplicaIsPromotable(*sentinel);

  ASSERT_TRUE(primary_->Kill().ok());  // A crash: no shutdown.

  auto on_replica = Direct(replica_->port());
  EXPECT_TRUE(
      WriteUntilItLandsOn(**client, *on_replica, "k", absl::Seconds(20)));
  EXPECT_EQ(NamedPrimary(*sentinel), replica_->port());
  auto role = on_replica->CommandSync({"ROLE"});
  ASSERT_TRUE(role.ok());
  EXPECT_EQ(role->elements[0].str, "master");
}

// ---- Scripted sentinel
// --------------------------------------------------------

// A stand-in for a sentinel on a loopback port: it answers SENTINEL
// get-master-addr-by-name <kMaster> with 127.0.0.1 and the port the test set
// (nil for other names), AUTH against an optional password, and anything
// else with an error. One thread serves every connection.
// The stream readers' wake-ups under Sentinel: a subscriber on the primary
// the sentinel names, which moves to the promoted replica after a failover
// (within its refresh), so an entry written there still wakes the reader.
TEST_F(RedisSentinelFailover, KeyspaceNotificationsFollowTheFailover) {
  auto started = redis::KeyspaceNotifications::Start(
      SentinelOptions({dead_port_, sentinel_->port()}), {"s-0", "s-1"},
      {"xadd"}, /*refresh=*/absl::Milliseconds(300));
  ASSERT_TRUE(started.ok()) << started.status();
  redis::KeyspaceNotifications& notes = **started;
  notes.Watch({true, true});
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!notes.enabled() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(notes.enabled());
  // Quiet: what subscribing marked as touched is taken.
  auto drain = [&notes] {
    while (!notes.Wait(absl::Milliseconds(300)).empty()) {
    }
  };
  drain();
  auto on_primary = Direct(primary_->port());
  ASSERT_TRUE(on_primary->CommandSync({"XADD", "s-1", "*", "f", "v"}).ok());
  EXPECT_THAT(notes.Wait(absl::Seconds(5)), ::testing::ElementsAre(1));

  auto sentinel = Direct(sentinel_->port());
  ASSERT_NO_FATAL_FAILURE(FailOver(*sentinel));
  absl::Time named_by = absl::Now() + absl::Seconds(15);
  while (NamedPrimary(*sentinel) != replica_->port() &&
         absl::Now() < named_by) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_EQ(NamedPrimary(*sentinel), replica_->port());
  // The subscriber moves within its refresh (and marks everything touched
  // when it subscribes again): wait for that, then for quiet.
  absl::SleepFor(absl::Seconds(1));
  drain();
  auto on_replica = Direct(replica_->port());
  ASSERT_TRUE(on_replica->CommandSync({"XADD", "s-0", "*", "f", "v"}).ok());
  EXPECT_THAT(notes.Wait(absl::Seconds(5)), ::testing::ElementsAre(0));
}

class FakeSentinel {
 public:
  FakeSentinel() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) ==
            0 &&
        listen(listen_fd_, 16) == 0 &&
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) ==
            0) {
      port_ = ntohs(addr.sin_port);
    }
    stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    thread_ = std::thread([this] { Serve(); });
  }

  ~FakeSentinel() {
    uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof(one));
    thread_.join();
    close(stop_fd_);
    close(listen_fd_);
  }

  int port() const { return port_; }

  // From now on, names 127.0.0.1:`port` as the primary.
  void Name(int port) {
    absl::MutexLock lock(&mu_);
    primary_port_ = port;
  }

  // Requires AUTH `password` before answering.
  void RequirePassword(std::string password) {
    absl::MutexLock lock(&mu_);
    password_ = std::move(password);
  }

  int questions() const { return questions_.load(); }
  int refused_auths() const { return refused_auths_.load(); }

 private:
  struct Client {
    int fd;
    std::string in;
    bool authenticated = false;
  };

  void Serve() {
    std::vector<Client> clients;
    while (true) {
      std::vector<pollfd> fds = {{stop_fd_, POLLIN, 0},
                                 {listen_fd_, POLLIN, 0}};
      for (const Client& c : clients) fds.push_back({c.fd, POLLIN, 0});
      if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;
      if (fds[0].revents != 0) break;
      if (fds[1].revents & POLLIN) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) clients.push_back({fd, "", false});
      }
      for (size_t i = 2; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        Client& c = clients[i - 2];
        char buf[4096];
        ssize_t n = read(c.fd, buf, sizeof(buf));
        if (n <= 0) {
          close(c.fd);
          c.fd = -1;
          continue;
        }
        c.in.append(buf, static_cast<size_t>(n));
        while (std::optional<std::vector<std::string>> argv = Take(c.in)) {
          std::string out = Answer(c, *argv);
          (void)!send(c.fd, out.data(), out.size(), MSG_NOSIGNAL);
        }
      }
      std::erase_if(clients, [](const Client& c) { return c.fd < 0; });
    }
    for (const Client& c : clients) close(c.fd);
  }

  // Takes one command (a RESP array of bulk strings, as hiredis sends) off
  // the front of `in`, if all of it has arrived.
  static std::optional<std::vector<std::string>> Take(std::string& in) {
    size_t pos = 0;
    auto number_line = [&](char type, int* value) {
      size_t end = in.find("\r\n", pos);
      if (end == std::string::npos || in[pos] != type) return false;
      bool ok = absl::SimpleAtoi(in.substr(pos + 1, end - pos - 1), value);
      pos = end + 2;
      return ok;
    };
    int count = 0;
    if (in.empty() || !number_line('*', &count)) return std::nullopt;
    std::vector<std::string> argv;
    for (int i = 0; i < count; ++i) {
      int len = 0;
      if (pos >= in.size() || !number_line('$', &len) ||
          in.size() < pos + len + 2) {
        return std::nullopt;
      }
      argv.push_back(in.substr(pos, len));
      pos += len + 2;
    }
    in.erase(0, pos);
    return argv;
  }

  std::string Answer(Client& c, const std::vector<std::string>& argv) {
    absl::MutexLock lock(&mu_);
    const std::string command =
        argv.empty() ? "" : absl::AsciiStrToUpper(argv[0]);
    if (command == "AUTH" && argv.size() == 2) {
      c.authenticated = argv[1] == password_;
      if (c.authenticated) return "+OK\r\n";
      refused_auths_++;
      return "-WRONGPASS invalid password\r\n";
    }
    if (!password_.empty() && !c.authenticated) {
      return "-NOAUTH Authentication required.\r\n";
    }
    if (command == "SENTINEL" && argv.size() == 3 &&
        absl::EqualsIgnoreCase(argv[1], "get-master-addr-by-name")) {
      questions_++;
      if (argv[2] != kMaster) return "*-1\r\n";
      std::string port = absl::StrCat(primary_port_);
      return absl::StrCat("*2\r\n$9\r\n127.0.0.1\r\n$", port.size(), "\r\n",
                          port, "\r\n");
    }
    return "-ERR unknown command\r\n";
  }

  int listen_fd_ = -1;
  int stop_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> questions_{0};
  std::atomic<int> refused_auths_{0};
  absl::Mutex mu_;
  int primary_port_ ABSL_GUARDED_BY(mu_) = 0;
  std::string password_ ABSL_GUARDED_BY(mu_);
};

class RedisSentinelClient : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(sentinel_.port(), 0);
    auto a = StartRedis();
    ASSERT_TRUE(a.ok()) << a.status();
    a_ = *std::move(a);
    auto b = StartRedis();
    ASSERT_TRUE(b.ok()) << b.status();
    b_ = *std::move(b);
  }

  // `options` reporting to counters_.
  redis::RedisOptions Counted(redis::RedisOptions options) {
    options.observer = &counters_;
    return options;
  }

  RedisCounters counters_;  // Outlives the tests' clients.
  FakeSentinel sentinel_;
  std::unique_ptr<RedisServer> a_;  // Two independent primaries.
  std::unique_ptr<RedisServer> b_;
};

TEST_F(RedisSentinelClient, UsesOnlyAServerWhoseRoleIsMaster) {
  // b replicates a: a sentinel that names b is wrong (stale).
  auto on_b = Direct(b_->port());
  ASSERT_TRUE(
      on_b->CommandSync({"REPLICAOF", "127.0.0.1", absl::StrCat(a_->port())})
          .ok());
  sentinel_.Name(b_->port());
  redis::RedisOptions options = SentinelOptions({sentinel_.port()});
  options.connections = 1;
  auto client = redis::HiredisClient::Start(Counted(options));
  ASSERT_TRUE(client.ok()) << client.status();
  // b is checked and refused, again and again.
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (counters_.primary_changes.load() < 3 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_GE(counters_.primary_changes.load(), 3u);
  EXPECT_EQ((*client)->ready_connections(), 0);
  EXPECT_EQ(counters_.connects.load(), 0u);
  EXPECT_EQ((*client)->CommandSync({"PING"}).status().code(),
            absl::StatusCode::kUnavailable);

  sentinel_.Name(a_->port());
  WaitReady(**client, 1);
  ASSERT_TRUE((*client)->CommandSync({"SET", "k", "on-a"}).ok());
  auto on_a = Direct(a_->port());
  EXPECT_EQ(Get(*on_a, "k"), "on-a");
}

TEST_F(RedisSentinelClient, ReadonlyReplyDropsTheConnectionAndFindsThePrimary) {
  redis::RedisOptions options = SentinelOptions({sentinel_.port()});
  options.connections = 1;
  options.sentinel_check_interval = absl::Hours(1);  // Only READONLY acts.
  sentinel_.Name(a_->port());
  auto client = redis::HiredisClient::Start(Counted(options));
  ASSERT_TRUE(client.ok()) << client.status();
  WaitReady(**client, 1);
  ASSERT_TRUE((*client)->CommandSync({"SET", "k", "on-a"}).ok());

  // A failover the client is not told about: a becomes b's replica.
  sentinel_.Name(b_->port());
  auto on_a = Direct(a_->port());
  ASSERT_TRUE(
      on_a->CommandSync({"REPLICAOF", "127.0.0.1", absl::StrCat(b_->port())})
          .ok());
  auto demoted = (*client)->CommandSync({"SET", "k", "lost"});
  EXPECT_EQ(demoted.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(demoted.status().message(), HasSubstr("READONLY"));
  EXPECT_EQ(counters_.primary_changes.load(), 1u);

  auto on_b = Direct(b_->port());
  EXPECT_TRUE(WriteUntilItLandsOn(**client, *on_b, "k", absl::Seconds(5)));
}

TEST_F(RedisSentinelClient, LeavesAPrimaryTheSentinelsNoLongerName) {
  redis::RedisOptions options = SentinelOptions({sentinel_.port()});
  sentinel_.Name(a_->port());
  auto client = redis::HiredisClient::Start(Counted(options));
  ASSERT_TRUE(client.ok()) << client.status();
  WaitReady(**client, 2);
  auto on_a = Direct(a_->port());
  ASSERT_TRUE(WriteUntilItLandsOn(**client, *on_a, "k", absl::Seconds(2)));

  // Both still accept writes, as the old primary does after a failover
  // until Sentinel demotes it.
  sentinel_.Name(b_->port());
  auto on_b = Direct(b_->port());
  EXPECT_TRUE(WriteUntilItLandsOn(**client, *on_b, "k", absl::Seconds(5)));
  EXPECT_EQ(counters_.primary_changes.load(), 2u);  // Both connections.
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE((*client)->CommandSync({"SET", "k", "b"}).ok());
  }
  EXPECT_NE(Get(*on_a, "k"), "b");
  EXPECT_EQ(Get(*on_b, "k"), "b");
}

TEST_F(RedisSentinelClient, MovesOnWhenTheSentinelItAsksGoesDown) {
  auto first = std::make_unique<FakeSentinel>();
  first->Name(a_->port());
  sentinel_.Name(a_->port());
  auto client = redis::HiredisClient::Start(
      SentinelOptions({first->port(), sentinel_.port()}));
  ASSERT_TRUE(client.ok()) << client.status();
  WaitReady(**client, 2);
  EXPECT_EQ(sentinel_.questions(), 0);  // The first one answered.

  first.reset();  // Its connections close; nothing listens any more.
  sentinel_.Name(b_->port());
  auto on_b = Direct(b_->port());
  EXPECT_TRUE(WriteUntilItLandsOn(**client, *on_b, "k", absl::Seconds(5)));
  EXPECT_GT(sentinel_.questions(), 0);
}

TEST_F(RedisSentinelClient, AuthenticatesToTheSentinels) {
  sentinel_.RequirePassword("s3cret");
  sentinel_.Name(a_->port());
  redis::RedisOptions options = SentinelOptions({sentinel_.port()});
  options.sentinel_password = "s3cret";
  auto client = redis::HiredisClient::Start(options);
  ASSERT_TRUE(client.ok()) << client.status();
  WaitReady(**client, 2);

  options.sentinel_password = "wrong";
  auto refused = redis::HiredisClient::Start(options);
  ASSERT_TRUE(refused.ok());
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (sentinel_.refused_auths() < 3 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_GE(sentinel_.refused_auths(), 3);
  EXPECT_EQ((*refused)->ready_connections(), 0);
  EXPECT_EQ((*refused)->CommandSync({"PING"}).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(RedisSentinelClient, FailsFastWhenNoSentinelAnswers) {
  absl::StatusOr<int> dead_port = PickFreePort();
  ASSERT_TRUE(dead_port.ok());
  auto client = redis::HiredisClient::Start(SentinelOptions({*dead_port}));
  ASSERT_TRUE(client.ok());
  absl::Time start = absl::Now();
  auto reply = (*client)->CommandSync({"PING"});
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(100));
  EXPECT_EQ((*client)->ready_connections(), 0);
}

}  // namespace
}  // namespace makegood::store
