"""The soak's real processes: redis-server, the fault proxy, makegood.

Every child runs in a session of its own (so a signal reaches exactly it) and
under ``setpriv --pdeathsig KILL`` (so it dies with the soak, however the soak
ends). Children must therefore be started from one long-lived thread, the
main thread: the death signal follows the thread that forked.

Fault primitives (SIGKILL, SIGSTOP/SIGCONT, proxy faults) are here; when and
what to inject is decided by the schedule (schedule.py).
"""

import os
import signal
import socket
import subprocess
import sys
import time
import zlib

import grpc
import redis as redis_client

# grpc.health.v1.Health/Check: the empty request, and the SERVING answer.
HEALTH_METHOD = "/grpc.health.v1.Health/Check"
HEALTH_SERVING = b"\x08\x01"

# The sandbox card processor's faults while healthy (decline, 5xx,
# commit-then-timeout, slow), and during a provider outage.
SANDBOX_NORMAL = (
    "latency=5ms,slow_latency=1500ms,decline=0.05,error=0.05,"
    "commit_timeout=0.05,slow=0.05"
)
SANDBOX_OUTAGE = "latency=5ms,error=0.9,commit_timeout=0.05"


class HarnessError(Exception):
    """The soak itself could not do its job (not a finding about makegood)."""


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, interval=0.05):
    """Polls `predicate` until it is true or `timeout` seconds passed."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class Child:
    """A child process with its log file, restartable under the same name."""

    def __init__(self, name, log_dir):
        self.name = name
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.proc = None
        self.paused = False

    def argv(self):
        raise NotImplementedError

    def spawn(self, stdin=None, stdout=None):
        """Starts the process (main thread only, see the module comment)."""
        with open(self.log_path, "ab") as log:
            log.write(f"--- start {time.strftime('%H:%M:%S')}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                ["setpriv", "--pdeathsig", "KILL", "--", *self.argv()],
                stdin=stdin or subprocess.DEVNULL,
                stdout=stdout or log,
                stderr=log,
                start_new_session=True,
            )
        self.paused = False

    def last_log_line(self):
        with open(self.log_path, "rb") as log:
            lines = log.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else "(empty log)"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self):
        """SIGKILL, and reap."""
        if self.proc is None:
            return
        self.signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None
        self.paused = False

    def pause(self):
        self.signal(signal.SIGSTOP)
        self.paused = self.alive()

    def resume(self):
        self.signal(signal.SIGCONT)
        self.paused = False

    def stop(self, grace=5.0):
        """SIGTERM, then SIGKILL after `grace` seconds."""
        if self.proc is None:
            return
        self.resume()
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        self.kill()


class Redis(Child):
    """redis-server on its own port and directory; the AOF survives kills."""

    def __init__(self, log_dir, data_dir, name="redis"):
        super().__init__(name, log_dir)
        self.data_dir = data_dir
        os.makedirs(data_dir, exist_ok=True)
        self.port = self.pick_port()

    def pick_port(self):
        return free_port()

    def argv(self):
        return [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            self.data_dir,
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            # Redis 7.0 loads an AOF whose tail is a transaction cut short by
            # only dropping the partial command: the MULTI stays and swallows
            # the next run's writes, so a later restart applies half of a
            # script (found by this soak). Refuse such a file; start() repairs
            # it with redis-check-aof first, which cuts before the MULTI.
            "--aof-load-truncated",
            "no",
            # Stream readers wait for these instead of blocking reads.
            "--notify-keyspace-events",
            "Kt",
            "--save",
            "",
            "--maxmemory-policy",
            "noeviction",
            "--protected-mode",
            "no",
            "--daemonize",
            "no",
            "--logfile",
            self.log_path,
            *self.extra_args(),
        ]

    def extra_args(self):
        return []

    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self):
        """A client for the checker."""
        return redis_client.Redis(host="127.0.0.1", port=self.port, socket_timeout=60)

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.5) as s:
                s.settimeout(0.5)
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def repair_aof(self):
        """redis-check-aof --fix: a transaction cut short by a kill is removed
        whole (a no-op on a clean AOF). Its report goes to the Redis log."""
        manifest = os.path.join(
            self.data_dir, "appendonlydir", "appendonly.aof.manifest"
        )
        if not os.path.exists(manifest):
            return
        with open(self.log_path, "ab") as log:
            log.write(b"--- redis-check-aof --fix\n")
            log.flush()
            subprocess.run(
                ["redis-check-aof", "--fix", manifest],
                input=b"y\n",
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=120,
                check=False,
            )

    def start(self, timeout=30):
        """Repairs the AOF, starts it and waits until it answers (AOF loaded)."""
        self.repair_aof()
        self.spawn()
        if not wait_until(self.ping, timeout):
            raise HarnessError(f"redis-server did not answer; see {self.log_path}")


class Proxy(Child):
    """tcp_proxy.py with one listener per makegood process."""

    def __init__(self, log_dir, upstream_port, names):
        super().__init__("proxy", log_dir)
        self.upstream_port = upstream_port
        self.names = names
        self.ports = {}

    def argv(self):
        script = os.path.join(os.path.dirname(__file__), "tcp_proxy.py")
        return [
            sys.executable,
            script,
            "--upstream",
            f"127.0.0.1:{self.upstream_port}",
            *self.names,
        ]

    def start(self):
        self.spawn(stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        for line in self.proc.stdout:
            words = line.decode().split()
            if words == ["ready"]:
                return
            if len(words) == 3 and words[0] == "listen":
                self.ports[words[1]] = int(words[2])
        raise HarnessError(f"tcp_proxy did not start; see {self.log_path}")

    def command(self, line):
        """Sends one control command and waits for its answer."""
        self.proc.stdin.write(f"{line}\n".encode())
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline().decode().strip()
        if reply != "ok":
            raise HarnessError(f"tcp_proxy: {line!r} answered {reply!r}")


class Makegood(Child):
    """One makegood process: API, settlement worker, or both."""

    def __init__(self, name, log_dir, config, api, worker, redis_url):
        super().__init__(name, log_dir)
        self.config = config
        self.api = api
        self.worker = worker
        self.redis_url = redis_url
        self.port = free_port()
        self.sandbox = SANDBOX_NORMAL
        self.starts = 0
        self._channel = None
        self._channel_port = None

    def argv(self):
        c = self.config
        argv = [
            c.makegood,
            f"--listen=127.0.0.1:{self.port}",
            f"--redis={self.redis_url}",
            f"--policy={c.policy}",
            "--insecure_dev",
            "--log_level=warning",
            "--shutdown_grace=1s",
            f"--idempotency_ttl={c.idempotency_ttl}s",
            f"--claim_lease={c.claim_lease}",
            "--rate_limits=SubmitRating.member=120/m:burst=40,"
            "SubmitRating.client=60/s:burst=60",
            f"--goodwill_agent_daily_budget={c.agent_budget}",
            f"--goodwill_member_budget={c.member_budget}",
        ]
        if not self.api:
            argv.append("--serve_api=false")
        if self.worker:
            argv += [
                "--settlement_worker",
                f"--settlement_consumer={self.name}",
                "--card_provider=sandbox",
                f"--sandbox={self.sandbox},seed={self.sandbox_seed()}",
                f"--settlement_retry_after={c.retry_after}",
                f"--settlement_max_deliveries={c.max_deliveries}",
            ]
        return argv

    def sandbox_seed(self):
        """The sandbox's fault rolls: seeded from SOAK_SEED, the process and
        how often it started, so a seed's run rolls the same sequences."""
        name = zlib.crc32(self.name.encode())
        return 1 + (self.config.seed * 1000003 + name * 101 + self.starts) % (1 << 62)

    def start(self, sandbox=None):
        """Starts it (without waiting: Redis may be down on purpose)."""
        if sandbox is not None:
            self.sandbox = sandbox
        self.starts += 1
        self.spawn()
        if _exited_soon(self.proc):
            # Most likely the port was taken meanwhile: another one.
            self.port = free_port()
            self.spawn()
            if _exited_soon(self.proc):
                raise HarnessError(
                    f"{self.name} exits at start: {self.last_log_line()}"
                )

    def channel(self):
        """A channel to its current port, reconnecting quickly."""
        if self._channel_port != self.port:
            self._channel = grpc.insecure_channel(
                f"127.0.0.1:{self.port}",
                options=[
                    ("grpc.initial_reconnect_backoff_ms", 100),
                    ("grpc.min_reconnect_backoff_ms", 100),
                    ("grpc.max_reconnect_backoff_ms", 500),
                    ("grpc.enable_retries", 0),
                ],
            )
            self._channel_port = self.port
        return self._channel

    def serving(self):
        """Whether its health service says SERVING (Redis reachable)."""
        if not self.alive() or self.paused:
            return False
        check = self.channel().unary_unary(HEALTH_METHOD)
        try:
            return check(b"", timeout=1) == HEALTH_SERVING
        except grpc.RpcError:
            return False


def _exited_soon(proc):
    try:
        proc.wait(0.3)
        return True
    except subprocess.TimeoutExpired:
        return False


class Cluster:
    """Redis, the proxy and the makegood processes of one soak run.

    api1 serves the API and runs a settlement worker, api2 serves only the
    API, worker is a standalone settlement worker (--serve_api=false). Each
    reaches Redis through its own proxy listener; on a Redis Cluster
    (config.redis == "cluster", redis_cluster.py) there is no proxy and
    every makegood is given all six nodes.
    """

    def __init__(self, config, work_dir):
        self.config = config
        self.log_dir = os.path.join(work_dir, "logs")
        data_dir = os.path.join(work_dir, "redis")
        os.makedirs(self.log_dir)
        os.makedirs(data_dir)
        names = ["api1", "api2", "worker"]
        self.on_cluster = config.redis == "cluster"
        if self.on_cluster:
            from redis_cluster import RedisCluster  # imports this module

            self.redis = RedisCluster(self.log_dir, data_dir)
            self.proxy = None
        else:
            self.redis = Redis(self.log_dir, data_dir)
            self.proxy = Proxy(self.log_dir, self.redis.port, names)
        self.makegoods = {}
        self._roles = {
            "api1": (True, True),
            "api2": (True, False),
            "worker": (False, True),
        }
        self.makegood_kills = 0
        self.redis_kills = 0

    def start(self):
        self.redis.start()
        if self.proxy:
            self.proxy.start()
        for name, (api, worker) in self._roles.items():
            url = (
                self.redis.url()
                if self.on_cluster
                else f"redis://127.0.0.1:{self.proxy.ports[name]}/0"
            )
            self.makegoods[name] = Makegood(
                name, self.log_dir, self.config, api, worker, url
            )
            self.makegoods[name].start()
        self.wait_serving(60)

    def apis(self):
        return [m for m in self.makegoods.values() if m.api]

    def redis_children(self):
        """redis-server: the one, or the cluster's six nodes."""
        return self.redis.nodes if self.on_cluster else [self.redis]

    def children(self):
        proxy = [self.proxy] if self.proxy else []
        return [*self.redis_children(), *proxy, *self.makegoods.values()]

    def wait_serving(self, timeout):
        """Waits until every makegood process reports SERVING."""
        if not wait_until(
            lambda: all(m.serving() for m in self.makegoods.values()),
            timeout,
            interval=0.2,
        ):
            down = [
                f"{m.name} ({m.last_log_line()})"
                for m in self.makegoods.values()
                if not m.serving()
            ]
            raise HarnessError(f"not serving after {timeout:.0f}s: {'; '.join(down)}")

    def kill(self, name):
        """SIGKILL of a makegood process or of redis-server (not restarted;
        on a cluster see Soak.inject)."""
        if name == "redis":
            self.redis.kill()
            self.redis_kills += 1
        else:
            self.makegoods[name].kill()
            self.makegood_kills += 1

    def restart(self, name, sandbox=None):
        if name == "redis":
            if not self.redis.alive():
                self.redis.start()
        elif not self.makegoods[name].alive():
            self.makegoods[name].start(sandbox)

    def child(self, name):
        if name.startswith("redis"):
            return self.redis.node(name) if self.on_cluster else self.redis
        return self.makegoods[name]

    def exited(self):
        """Processes that exited without being killed by the soak: (name,
        exit status) each. They are restarted by `restore`."""
        out = []
        for child in [*self.redis_children(), *self.makegoods.values()]:
            if child.proc is not None and child.proc.poll() is not None:
                out.append((child.name, child.proc.returncode))
                child.proc = None
        return out

    def restore(self):
        """Ends every fault: no pause, no proxy fault, everything running with
        the normal sandbox behaviour (an outage's workers are restarted)."""
        if self.proxy:
            self.proxy.command("heal")
        for child in self.children():
            child.resume()
        if self.on_cluster:
            self.restore_redis_cluster()
        else:
            self.restart("redis")
        for m in self.makegoods.values():
            if m.alive() and m.sandbox != SANDBOX_NORMAL and m.worker:
                m.stop()
            self.restart(m.name, SANDBOX_NORMAL)

    def restore_redis_cluster(self, timeout=90):
        """The cluster whole again: the slot move ended, stalls over, every
        killed node started again once its replica took over (it rejoins as
        a replica), every replica in sync."""
        cluster = self.redis
        cluster.finish_move()
        if cluster.move_errors:
            raise HarnessError("; ".join(cluster.move_errors))
        cluster.end_stalls()
        for node in cluster.nodes:
            if not node.alive():
                wait_until(lambda n=node: cluster.taken_over(n), 30, 0.2)
                node.start()
        if not wait_until(cluster.whole, timeout, interval=0.3):
            raise HarnessError(
                f"the Redis cluster is not whole after {timeout}s: "
                + cluster.describe()
            )

    def shutdown(self):
        for m in self.makegoods.values():
            m.stop(grace=2)
        if self.proxy:
            self.proxy.kill()
        self.redis.stop()
