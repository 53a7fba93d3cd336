"""The soak's Redis Cluster (SOAK_REDIS=cluster): six redis-server nodes on
free loopback ports, joined by `redis-cli --cluster create --cluster-replicas
1` into 3 primaries with one replica each, and the cluster faults.

Every node keeps the single Redis's durability care (its own data directory,
`appendonly yes`, `appendfsync always`, `aof-load-truncated no`, an AOF
repaired by redis-check-aof before every start) and adds: node timeout 2000
ms, `cluster-replica-validity-factor 0` (a replica always stands for
election, however long its link was down), no replica migration, diskless
full syncs without delay (a restarted node catches up at once) and
`notify-keyspace-events Kt` (makegood's stream consumers are woken by them).

Faults (the schedule draws them, soak.py injects them):
- a primary SIGKILLed: its replica takes over after the node timeout; once
  it has, the killed node is started again from its own data directory and
  rejoins as a replica of the new primary;
- a node (primary or replica) SIGSTOPped for less than the node timeout;
- one makegood's connections to every node cut (CLIENT KILL ADDR of each,
  found in /proc), or a node's client connections dropped (CLIENT KILL
  TYPE normal), stalled (CLIENT PAUSE ALL), or stalled and then dropped:
  what the TCP proxy does to one makegood's link on a single Redis (a proxy
  cannot sit between makegood and a cluster: the cluster announces its
  nodes' own addresses);
- one partition's slot moved to another primary by hand, in the four steps
  (SETSLOT IMPORTING, SETSLOT MIGRATING, MIGRATE in batches, SETSLOT NODE),
  with pauses between them so that makegood meets ASK and TRYAGAIN.

A kill waits until the cluster is whole (every node up, every replica in
sync, no slot moving); a slot move waits likewise and no kill starts while
it runs. So Redis never faces two failures at once: a second failure
before the first healed is beyond what 3 primaries with one replica each
promise (tests/soak/README.md).
"""

import os
import socket
import subprocess
import threading
import time

import redis as redis_client
import redis.cluster as redis_cluster
from redis.crc import key_slot

from cluster import HarnessError, Redis, free_port, wait_until

NODES = 6
NODE_TIMEOUT_MS = 2000


def free_cluster_port():
    """A free port whose cluster bus port (+10000) is free as well."""
    for _ in range(200):
        port = free_port()
        if port + 10000 > 65535:
            continue
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue
    raise HarnessError("no free port pair for a cluster node")


class ClusterNode(Redis):
    """One node: the single Redis's flags plus the cluster's."""

    def __init__(self, index, log_dir, data_dir):
        super().__init__(log_dir, data_dir, name=f"redis{index}")
        self.index = index

    def pick_port(self):
        return free_cluster_port()

    def extra_args(self):
        return [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            str(NODE_TIMEOUT_MS),
            "--cluster-replica-validity-factor",
            "0",
            "--cluster-allow-replica-migration",
            "no",
            "--repl-diskless-sync-delay",
            "0",
            "--notify-keyspace-events",
            "Kt",
        ]

    def address(self):
        return f"127.0.0.1:{self.port}"

    def admin(self, timeout=2.0):
        """A fresh connection for one admin call (any thread)."""
        return redis_client.Redis(
            host="127.0.0.1",
            port=self.port,
            socket_timeout=timeout,
            socket_connect_timeout=1.0,
            decode_responses=True,
        )

    def run(self, *args, timeout=2.0):
        client = self.admin(timeout)
        try:
            return client.execute_command(*args)
        finally:
            client.close()


def process_connections(pid):
    """(local port, remote port) of every TCP connection process `pid` has
    open to 127.0.0.1 (its fds' socket inodes matched in /proc/net/tcp)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[len("socket:[") : -1])
        with open(f"/proc/{pid}/net/tcp", encoding="ascii") as table:
            lines = table.read().splitlines()[1:]
    except OSError:
        return []
    out = []
    for line in lines:
        words = line.split()
        local, remote, state, inode = words[1], words[2], words[3], words[9]
        if inode in inodes and state == "01":  # ESTABLISHED
            out.append((int(local.split(":")[1], 16), int(remote.split(":")[1], 16)))
    return out


def cluster_info(node):
    """CLUSTER INFO of a node as a dict of text."""
    text = node.run("CLUSTER", "INFO")
    return dict(line.split(":", 1) for line in text.split() if ":" in line)


class View:
    """A node's CLUSTER NODES, parsed: id -> (port, flags, primary id, slots)."""

    def __init__(self, text):
        self.nodes = {}
        self.moving = False
        for line in text.strip().splitlines():
            words = line.split()
            port = int(words[1].split("@")[0].rsplit(":", 1)[1] or 0)
            slots = set()
            for item in words[8:]:
                if item.startswith("["):
                    self.moving = True
                    continue
                first, _, last = item.partition("-")
                slots.update(range(int(first), int(last or first) + 1))
            self.nodes[words[0]] = (port, set(words[2].split(",")), words[3], slots)

    def id_of(self, port):
        return next((i for i, n in self.nodes.items() if n[0] == port), None)

    def owner(self, slot):
        return next((i for i, n in self.nodes.items() if slot in n[3]), None)

    def failing(self):
        return [i for i, n in self.nodes.items() if {"fail", "fail?"} & n[1]]


class RedisCluster:
    """The six nodes, their life cycle and the cluster faults."""

    def __init__(self, log_dir, data_dir):
        self.log_dir = log_dir
        self.nodes = [
            ClusterNode(i, log_dir, os.path.join(data_dir, f"n{i}"))
            for i in range(NODES)
        ]
        self.ids = {}  # node index -> cluster node id
        self.failovers = 0
        self._taken_over = set()  # killed node indexes whose replica took over
        self.moves = 0
        self.moved_keys = 0
        self.move_errors = []
        self._move = None  # the slot move's thread, while one runs
        self.stalled_until = {}  # node index -> monotonic end of CLIENT PAUSE

    # ---- life cycle -----------------------------------------------------

    def start(self):
        for node in self.nodes:
            node.start()
        result = subprocess.run(
            ["redis-cli", "--cluster", "create"]
            + [n.address() for n in self.nodes]
            + ["--cluster-replicas", "1", "--cluster-yes"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        with open(os.path.join(self.log_dir, "cluster-create.log"), "w") as log:
            log.write(result.stdout + result.stderr)
        if result.returncode != 0:
            raise HarnessError(
                f"redis-cli --cluster create failed: {result.stderr.strip()[-300:]}"
            )
        for node in self.nodes:
            self.ids[node.index] = node.run("CLUSTER", "MYID")
        if not wait_until(self.whole, 60, interval=0.2):
            raise HarnessError(f"the cluster did not form: {self.describe()}")

    def url(self):
        return "redis-cluster://" + ",".join(n.address() for n in self.nodes)

    def client(self):
        """A fresh cluster client for the checker (the topology read now)."""
        return redis_cluster.RedisCluster(
            startup_nodes=[
                redis_cluster.ClusterNode("127.0.0.1", n.port)
                for n in self.nodes
                if n.alive() and not n.paused
            ],
            socket_timeout=60,
            cluster_error_retry_attempts=10,
        )

    def stop(self):
        for node in self.nodes:
            node.stop()

    def node(self, name):
        """redis<i> -> its node."""
        return self.nodes[int(name[len("redis") :])]

    # ---- state ----------------------------------------------------------

    def up(self):
        """The nodes that answer now: running, not paused, not stalled."""
        now = time.monotonic()
        return [
            n
            for n in self.nodes
            if n.alive() and not n.paused and self.stalled_until.get(n.index, 0) < now
        ]

    def view(self, node=None):
        """CLUSTER NODES as `node` (else the first live node) sees it."""
        for n in [node] if node else self.up():
            try:
                return View(n.run("CLUSTER", "NODES"))
            except redis_client.RedisError:
                continue
        return None

    def primaries(self):
        """The primaries serving slots, as node indexes in port order."""
        view = self.view()
        if view is None:
            return []
        ports = sorted(n[0] for n in view.nodes.values() if "master" in n[1] and n[3])
        return [n.index for n in self.nodes if n.port in ports]

    def whole(self):
        """Every node up and ok, seeing 6 nodes and none failing, no slot
        moving, 3 primaries serving every slot, each with one replica in
        sync."""
        if len(self.up()) != NODES or not self.move_done():
            return False
        try:
            for node in self.nodes:
                info = cluster_info(node)
                if (
                    info.get("cluster_state") != "ok"
                    or int(info.get("cluster_known_nodes", 0)) != NODES
                    or int(info.get("cluster_slots_assigned", 0)) != 16384
                ):
                    return False
                view = View(node.run("CLUSTER", "NODES"))
                if view.failing() or view.moving:
                    return False
                primaries = [i for i, n in view.nodes.items() if "master" in n[1]]
                replicas = [n[2] for n in view.nodes.values() if "slave" in n[1]]
                if len(primaries) != 3 or sorted(replicas) != sorted(primaries):
                    return False
                replication = node.run("INFO", "replication")
                if replication.get("role") == "slave" and (
                    replication.get("master_link_status") != "up"
                    or int(replication.get("master_sync_in_progress", 0))
                ):
                    return False
        except (redis_client.RedisError, ValueError):
            return False
        return True

    def describe(self):
        """One line on every node (for a harness error)."""
        parts = []
        for node in self.nodes:
            if not node.alive():
                parts.append(f"{node.name} down")
                continue
            if node.paused:
                parts.append(f"{node.name} paused")
                continue
            try:
                info = cluster_info(node)
                role = node.run("ROLE")[0]
                parts.append(f"{node.name} {role} {info.get('cluster_state')}")
            except redis_client.RedisError as error:
                parts.append(f"{node.name} {error}")
        return "; ".join(parts)

    # ---- faults -----------------------------------------------------------

    def moving(self):
        return self._move is not None

    def kill_primary(self, k):
        """SIGKILL of the k-th primary (port order); the node, or None."""
        primaries = self.primaries()
        if not primaries:
            return None
        node = self.nodes[primaries[k % len(primaries)]]
        node.kill()
        self._taken_over.discard(node.index)
        return node

    def taken_over(self, node):
        """Whether every live node sees `node`'s slots served by another and
        says cluster_state:ok."""
        node_id = self.ids[node.index]
        try:
            for other in self.up():
                view = View(other.run("CLUSTER", "NODES"))
                if node_id in view.nodes and view.nodes[node_id][3]:
                    return False
                if cluster_info(other).get("cluster_state") != "ok":
                    return False
        except redis_client.RedisError:
            return False
        if node.index not in self._taken_over:
            self._taken_over.add(node.index)
            self.failovers += 1
        return True

    def drop_clients(self, node):
        """CLIENT KILL TYPE normal: every client connection of the node is
        cut (replication and the cluster bus are not clients)."""
        try:
            node.run("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        except redis_client.RedisError:
            pass  # the node is down or paused: nothing to cut

    def cut_process(self, pid):
        """Cuts one process's connections to every node (CLIENT KILL ADDR of
        each of its sockets, found in /proc): what the proxy's drop does to
        one makegood's link. How many it cut."""
        ports = {n.port: n for n in self.up()}
        cut = 0
        for local, remote in process_connections(pid):
            if remote in ports:
                try:
                    ports[remote].run("CLIENT", "KILL", "ADDR", f"127.0.0.1:{local}")
                    cut += 1
                except redis_client.RedisError:
                    pass  # closed meanwhile
        return cut

    def stall_clients(self, node, seconds):
        """CLIENT PAUSE ALL: the node answers no client for `seconds` (the
        cluster bus and replication go on, so it is no failover)."""
        try:
            node.run("CLIENT", "PAUSE", str(int(seconds * 1000)), "ALL")
            self.stalled_until[node.index] = time.monotonic() + seconds
        except redis_client.RedisError:
            pass

    def end_stalls(self):
        """Waits until no CLIENT PAUSE lasts (they end by themselves: a
        pause holds back CLIENT UNPAUSE as well)."""
        left = max(self.stalled_until.values(), default=0) - time.monotonic()
        if left > 0:
            time.sleep(left + 0.05)
        self.stalled_until.clear()

    def start_move(self, partition_tag, k, step_pause):
        """Starts moving the slot of `partition_tag` from its primary to the
        k-th of the other primaries (port order), in a thread of its own."""
        thread = threading.Thread(
            target=self._moving,
            args=(partition_tag, k, step_pause),
            name="slot-move",
            daemon=True,
        )
        self._move = thread
        thread.start()

    def finish_move(self, timeout=120):
        """Waits for the slot move, if one runs."""
        if self._move is None:
            return
        self._move.join(timeout)
        if self._move.is_alive():
            raise HarnessError("the slot move did not end")
        self._move = None

    def move_done(self):
        if self._move is not None and not self._move.is_alive():
            self._move = None
        return self._move is None

    def _moving(self, tag, k, step_pause):
        try:
            self._move_slot(tag, k, step_pause)
        except Exception as error:  # reported after the storm
            self.move_errors.append(f"moving {{{tag}}}: {error!r}")

    def _retry(self, node, *args, timeout=60):
        """A step of the move, repeated while it fails (a node paused or
        cut off meanwhile) until `timeout` seconds passed."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return node.run(*args, timeout=10)
            except redis_client.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _move_slot(self, tag, k, step_pause):
        slot = key_slot(tag.encode())
        view = self.view()
        source_id = view.owner(slot)
        source = self.nodes[next(i for i, n in self.ids.items() if n == source_id)]
        targets = [i for i in self.primaries() if i != source.index]
        target = self.nodes[targets[k % len(targets)]]
        target_id = self.ids[target.index]
        self._retry(target, "CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        time.sleep(step_pause)
        self._retry(source, "CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        time.sleep(step_pause)
        batch = 0
        while True:
            keys = self._retry(source, "CLUSTER", "GETKEYSINSLOT", slot, 20)
            if not keys:
                break
            # REPLACE: a MIGRATE that timed out may have restored keys on the
            # target without deleting them here; the source's copy is newer.
            self._retry(
                source,
                "MIGRATE",
                "127.0.0.1",
                target.port,
                "",
                0,
                5000,
                "REPLACE",
                "KEYS",
                *keys,
            )
            self.moved_keys += len(keys)
            batch += 1
            if batch == 1:
                time.sleep(step_pause)  # half moved: TRYAGAIN for multi-key
        time.sleep(step_pause)
        others = [self.nodes[i] for i in self.primaries()]
        for node in [target, source] + [n for n in others if n not in (target, source)]:
            self._retry(node, "CLUSTER", "SETSLOT", slot, "NODE", target_id)
        self.moves += 1
