#!/usr/bin/env python3
"""makegood's soak: a bounded, seeded, randomized, fault-injecting run.

The run is a sequence of storms. In a storm, several clients send random
traffic through the public gRPC API to two makegood API processes while
makegood processes and Redis are killed, paused and cut off. After each
storm every fault ends, the clients settle what they do not know, a sample
of keys is replayed, settlement is given time to finish, and every
invariant is checked (checks.py) against what the clients were told.

Run it through scripts/soak.sh (see tests/soak/README.md). The last line
is always: soak: seed S, N storms, K makegood kills, R redis kills, V
violations. Exit status 1 on any violation or harness error, 2 when the
binaries are missing.
"""

import argparse
import collections
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass

from google.protobuf import text_format

from api import Api, load_stubs
from checks import Checker, RedisState, Violations, text
from cluster import SANDBOX_NORMAL, SANDBOX_OUTAGE, Cluster, HarnessError
from model import Model
from schedule import Scheduler
from traffic import Caller, Resolver, Traffic

SOURCE_DIR = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)


@dataclass
class Config:
    """Everything a run depends on (flags, defaulting to SOAK_* variables)."""

    seconds: float
    seed: int
    makegood: str
    admin: str
    policy: str
    clients: int
    storm_seconds: float
    actions_per_second: float
    members_per_storm: int
    replays: int
    makegood_kills: float
    redis_kills: float
    pauses: float
    proxy_faults: float
    settle_timeout: float
    keep: bool
    redis: str
    slot_moves: float
    idempotency_ttl: int = 60  # seconds: the shortest makegood accepts
    claim_lease: str = "2s"
    retry_after: str = "2s"
    max_deliveries: int = 3
    agent_budget: int = 20000
    member_budget: int = 5000
    storm_grace: float = 10.0
    watch_seconds: float = 5.0
    serving_timeout: float = 60.0


def parse_config(argv):
    env = os.environ.get
    bin_dir = env("SOAK_BIN_DIR", os.path.join(SOURCE_DIR, "build", "services"))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--seconds",
        type=float,
        default=float(env("SOAK_SECONDS", 120)),
        help="run length; the last storm's checks come after it",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=int(env("SOAK_SEED", random.SystemRandom().randrange(1 << 31))),
        help="the schedule's seed (default: random, printed first)",
    )
    p.add_argument(
        "--makegood",
        default=env("SOAK_MAKEGOOD", _binary(bin_dir, "server", "makegood")),
        help="the makegood binary (default: SOAK_BIN_DIR's, build/services)",
    )
    p.add_argument(
        "--admin",
        default=env("SOAK_ADMIN", _binary(bin_dir, "tools", "makegood_admin")),
        help="the makegood_admin binary (default: SOAK_BIN_DIR's)",
    )
    p.add_argument(
        "--policy",
        default=os.path.join(SOURCE_DIR, "config", "policy", "default.textproto"),
        help="the policy makegood serves (its tier caps are checked)",
    )
    p.add_argument(
        "--clients",
        type=int,
        default=int(env("SOAK_CLIENTS", 4)),
        help="client threads, each its own x-client-id",
    )
    p.add_argument(
        "--storm_seconds",
        type=float,
        default=float(env("SOAK_STORM_SECONDS", 8)),
        help="a storm's mean length",
    )
    p.add_argument(
        "--actions_per_second",
        type=float,
        default=float(env("SOAK_ACTIONS_PER_SECOND", 4)),
        help="actions per client and second of storm",
    )
    p.add_argument(
        "--members_per_storm", type=int, default=6, help="new members per storm"
    )
    p.add_argument(
        "--replays",
        type=int,
        default=int(env("SOAK_REPLAYS", 20)),
        help="keys replayed after each storm",
    )
    p.add_argument(
        "--makegood_kills",
        type=float,
        default=float(env("SOAK_MAKEGOOD_KILLS", 4)),
        help="makegood SIGKILLs per storm (mean)",
    )
    p.add_argument(
        "--redis_kills",
        type=float,
        default=float(env("SOAK_REDIS_KILLS", 1.0)),
        help="redis-server SIGKILLs per storm (mean)",
    )
    p.add_argument(
        "--pauses",
        type=float,
        default=float(env("SOAK_PAUSES", 1.5)),
        help="SIGSTOP/SIGCONT pauses per storm (mean)",
    )
    p.add_argument(
        "--proxy_faults",
        type=float,
        default=float(env("SOAK_PROXY_FAULTS", 2)),
        help="proxy drops, stalls and blackholes per storm (mean)",
    )
    p.add_argument(
        "--settle_timeout",
        type=float,
        default=float(env("SOAK_SETTLE_TIMEOUT", 90)),
        help="seconds settlement gets after each storm",
    )
    p.add_argument(
        "--redis",
        choices=["single", "cluster"],
        default=env("SOAK_REDIS", "single"),
        help="one redis-server behind fault proxies, or a local Redis Cluster "
        "of 3 primaries and 3 replicas (cluster faults instead of proxy "
        "faults; tests/soak/README.md)",
    )
    p.add_argument(
        "--slot_moves",
        type=float,
        default=float(env("SOAK_SLOT_MOVES", 0.5)),
        help="on a cluster: slot moves of a partition per storm (mean)",
    )
    p.add_argument(
        "--keep",
        action="store_true",
        default=env("SOAK_KEEP", "") not in ("", "0"),
        help="keep the run's directory (logs, Redis data)",
    )
    return Config(**vars(p.parse_args(argv)))


def _binary(bin_dir, subdir, name):
    """bin_dir/subdir/name (a build tree), else bin_dir/name (a copy)."""
    nested = os.path.join(bin_dir, subdir, name)
    return nested if os.path.exists(nested) else os.path.join(bin_dir, name)


def say(line):
    print(line, flush=True)


class Soak:
    """One run: the cluster, the model, the schedule and the checks."""

    def __init__(self, config, work_dir):
        self.config = config
        self.work_dir = work_dir
        self.cluster = Cluster(config, work_dir)
        self.model = Model()
        self.violations = Violations(os.path.join(work_dir, "violations.log"), say)
        self.storms = 0
        self.skipped_faults = 0  # cluster faults dropped (see postpone)

    def start(self):
        """Generates the stubs, starts the processes and the soak's parts."""
        pb = load_stubs(SOURCE_DIR, os.path.join(self.work_dir, "stubs"))
        self.api = Api(pb)
        with open(self.config.policy, encoding="utf-8") as policy_file:
            policy = text_format.Parse(policy_file.read(), pb.policy.Policy())
        self.cluster.start()
        redis = self.cluster.redis.client()
        partitions = int(redis.hget("mg:meta", "partitions") or 64)
        self.redis = RedisState(redis, partitions)
        self.scheduler = Scheduler(
            self.config.seed, pb, self.model, self.config, time.time()
        )
        self.resolver = Resolver(self.cluster, self.api, self.model)
        checker_caller = Caller("soak-checker", self.cluster, self.api, self.model)
        self.checker = Checker(
            self.model,
            self.config,
            self.redis,
            policy,
            pb,
            lambda method, request: checker_caller.unary(method, request)[-1][2],
            lambda command: [
                self.config.admin,
                command,
                f"--redis={self.cluster.redis.url()}",
            ],
            self.violations,
        )

    def run(self):
        """Storms until the next one would end after SOAK_SECONDS."""
        started = time.monotonic()
        while True:
            self.storm(self.storms + 1)
            self.storms += 1
            elapsed = time.monotonic() - started
            if elapsed + (elapsed / self.storms) > self.config.seconds:
                return

    def storm(self, number):
        """One storm: setup, traffic and faults, quiesce, checks; one line."""
        storm = self.scheduler.storm(number)
        self.setup(storm)
        reads = []
        traffic = Traffic(storm, self.cluster, self.api, self.model, self.config, reads)
        requests_before = self.model_requests()
        t0 = time.monotonic()
        traffic.start()
        faults = self.inject(storm)
        done = traffic.finish()
        storm_time = time.monotonic() - t0
        requests, transient = (
            a - b for a, b in zip(self.model_requests(), requests_before)
        )
        for name, code in self.cluster.exited():
            self.violations.add(
                "process-exit",
                f"{name} exited by itself with "
                f"status {code}; log {self.cluster.log_dir}",
            )
        t1 = time.monotonic()
        self.cluster.restore()
        self.reconnect_checker()
        self.wait_serving()
        unanswered = self.resolver.resolve()
        if unanswered:
            self.violations.add(
                "unanswered",
                f"{unanswered} requests still unanswered with every fault ended",
            )
        self.resolver.replay(storm.replays)
        self.settle()
        t2 = time.monotonic()
        before = self.violations.total
        self.checker.run(reads, self.model.take_touched())
        self.violations.new_storm()
        actions = sum(len(a) for a in storm.actions.values())
        say(
            f"storm {number}: {storm_time:.1f}s, {done}/{actions} actions, "
            f"{requests} requests ({transient} transient); faults: {faults}; "
            f"quiesce {t2 - t1:.1f}s, checks {time.monotonic() - t2:.1f}s: "
            f"{self.violations.total - before} violations"
        )

    def coverage(self):
        """One line on what the run exercised."""
        refunds = self.redis.refunds(self.redis.refund_ids())
        states = collections.Counter(text(f.get("state")) for f, _ in refunds.values())
        fallbacks = sum(1 for f, _ in refunds.values() if f.get("declined_by"))
        currencies = collections.Counter(
            text(f.get("currency")) for f, _ in refunds.values()
        )
        pipe = self.redis.redis.pipeline(transaction=False)
        for p in range(self.redis.partitions):
            pipe.xlen(self.redis.partition_prefix(p) + "outbox:dead")
        dead = sum(pipe.execute())
        keys = list(self.model.keys.values())
        late = 0
        for keyed in keys:
            oks = keyed.ok_attempts()
            first = min((a.received for a in oks), default=None)
            late += sum(
                1
                for a in keyed.attempts
                if first is not None and a.sent - first > self.config.idempotency_ttl
            )
        sent = collections.Counter()
        for keyed in keys:
            sent[keyed.kind] += len(keyed.attempts)
        return (
            f"soak: exercised {sent['rating']} ratings and {sent['grant']} "
            f"grants sent ({late} after the idempotency TTL), "
            f"{len(self.model.marks)} marks, {len(self.model.watches)} "
            f"watches; {len(refunds)} refunds ("
            + ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
            + "; "
            + ", ".join(f"{n} in {c}" for c, n in sorted(currencies.items()))
            + f"), {fallbacks} declined cards paid as wallet credit, "
            f"{dead} dead letters"
        )

    def reconnect_checker(self):
        """A fresh Redis client for the checks: on a cluster, one that reads
        the topology as the storm left it."""
        old = self.redis.redis
        self.redis.redis = self.cluster.redis.client()
        try:
            old.close()
        except Exception:  # closing a client whose node died
            pass

    def wait_serving(self):
        """Waits until every makegood serves. One that does not, with every
        fault ended, is a violation; it is killed and started again."""
        try:
            self.cluster.wait_serving(self.config.serving_timeout)
        except HarnessError as error:
            self.violations.add("not-serving", f"{error}, every fault ended")
            for m in self.cluster.makegoods.values():
                if not m.serving():
                    m.kill()
                    m.start()
            self.cluster.wait_serving(self.config.serving_timeout)

    def model_requests(self):
        """Requests sent so far, and how many were answered transiently."""
        attempts = [a for k in list(self.model.keys.values()) for a in k.attempts]
        attempts += [a for o in self.model.orders.values() for a in o.attempts]
        attempts += [m.attempt for m in self.model.marks]
        return len(attempts), sum(a.answer.transient for a in attempts)

    def setup(self, storm):
        """Records the storm's new members and orders (no faults yet)."""
        caller = Caller("soak-setup", self.cluster, self.api, self.model)
        retry = {"tries": 20, "backoff": 0.5}
        for member in storm.members:
            request = self.api.pb.member_service.UpsertMemberRequest(member=member)
            answer = caller.unary("UpsertMember", request, **retry)[-1][2]
            if not answer.ok:
                raise HarnessError(
                    f"UpsertMember {member.member_id}: "
                    f"{answer.brief()} {answer.message}"
                )
        for record in storm.orders:
            answer = caller.record_order(record, 0, phase="setup", **retry)
            if not answer.ok:
                raise HarnessError(
                    f"RecordDelivery {record.order_id}: "
                    f"{answer.brief()} {answer.message}"
                )

    def inject(self, storm):
        """Injects the storm's faults at their times (this thread starts
        every process, see cluster.py); a summary of what was done."""
        cluster = self.cluster
        t0 = time.monotonic()
        due = []  # (monotonic time, action): restarts and resumes
        done = []
        faults = list(storm.faults)
        while faults or time.monotonic() < t0 + storm.seconds:
            now = time.monotonic()
            for item in [d for d in due if d[0] <= now]:
                due.remove(item)
                item[1]()
            while faults and t0 + faults[0].at <= now:
                fault = faults.pop(0)
                if cluster.on_cluster and self.inject_cluster(fault, now, t0, due):
                    done.append((fault.kind, fault.target))
                    continue
                if cluster.on_cluster and (
                    fault.kind == "move" or fault.target.startswith("primary")
                ):
                    self.postpone(fault, faults, now, t0)
                    continue
                done.append((fault.kind, fault.target))
                if fault.kind == "kill":
                    cluster.kill(fault.target)
                    sandbox = (
                        SANDBOX_OUTAGE if fault.sandbox == "outage" else SANDBOX_NORMAL
                    )
                    due.append(
                        (
                            now + fault.seconds,
                            lambda t=fault.target, s=sandbox: cluster.restart(t, s),
                        )
                    )
                elif fault.kind == "pause":
                    child = cluster.child(fault.target)
                    child.pause()
                    due.append((now + fault.seconds, child.resume))
                elif fault.kind == "drop":
                    cluster.proxy.command(f"drop {fault.target}")
                else:
                    cluster.proxy.command(
                        f"{fault.kind} {fault.target} {fault.seconds:.2f}"
                    )
            time.sleep(0.02)
        by_kind = {}
        for kind, target in done:
            by_kind.setdefault(kind, []).append(target)
        return ", ".join(f"{k} {' '.join(t)}" for k, t in by_kind.items()) or "none"

    def inject_cluster(self, fault, now, t0, due):
        """A Redis Cluster fault (redis_cluster.py); False if it is none or
        must wait (a primary kill and a slot move wait until the cluster is
        whole, see postpone)."""
        redis = self.cluster.redis
        target = fault.target
        if fault.kind == "kill" and target.startswith("primary"):
            if not redis.whole():
                return False
            node = redis.kill_primary(int(target[len("primary") :]))
            if node is None:
                return False
            self.cluster.redis_kills += 1
            fault.target = f"{target}={node.name}"
            waited_from = now

            def restart_after_takeover():
                at = time.monotonic()
                if node.alive():
                    return
                if redis.taken_over(node) or at - waited_from > 30:
                    due.append((at + fault.seconds, restart))
                else:
                    due.append((at + 0.2, restart_after_takeover))

            def restart():
                if not node.alive():
                    node.start()

            due.append((now + 0.5, restart_after_takeover))
            return True
        if fault.kind == "move":
            if not redis.whole():
                return False
            tag = self.redis.tags[int(target[1:]) % self.redis.partitions]
            redis.start_move(tag, fault.to, fault.seconds)
            return True
        if fault.kind == "cut":
            process = self.cluster.makegoods[target]
            if process.alive():
                redis.cut_process(process.proc.pid)
            return True
        if not target.startswith("redis"):
            return False
        node = redis.node(target)
        if fault.kind == "pause":
            return False  # as on one Redis (Cluster.child)
        if fault.kind == "drop":
            if target in [n.name for n in redis.up()]:
                redis.drop_clients(node)
        elif target in [n.name for n in redis.up()]:  # stall, blackhole
            redis.stall_clients(node, fault.seconds)
            if fault.kind == "blackhole":
                # Every client is cut as the stall ends (what was sent
                # before is answered first: a pause holds back the cut too).
                due.append(
                    (now + fault.seconds + 0.02, lambda: redis.drop_clients(node))
                )
        return True

    def postpone(self, fault, faults, now, t0, step=0.3, limit=30.0):
        """A primary kill or slot move waits (`step` at a time) until the
        cluster is whole: Redis never faces two failures at once. After
        `limit` seconds it is dropped (counted in the cluster line)."""
        if not hasattr(fault, "first_due"):
            fault.first_due = fault.at
        if fault.at - fault.first_due > limit:
            self.skipped_faults += 1
            return
        fault.at = now - t0 + step
        faults.append(fault)
        faults.sort(key=lambda f: f.at)

    def settle(self):
        """Waits until no refund is ACCEPTED or SETTLING (bounded); as an
        operator would, hands refunds set aside for attention to
        `makegood_admin reconcile --fix`, and waits again (a few rounds: a
        re-driven refund can be set aside again)."""
        for _ in range(3):
            self.wait_final()
            states = self.redis.states(sorted(self.redis.refund_ids()))
            if "NEEDS_ATTENTION" not in states.values():
                return
            result = subprocess.run(
                self.checker.admin("reconcile") + ["--fix"],
                capture_output=True,
                text=True,
                timeout=300,
            )
            if result.returncode not in (0, 1):
                self.violations.add(
                    "admin-reconcile",
                    f"reconcile --fix exited {result.returncode}: "
                    f"{result.stderr.strip()[-300:]}",
                )
        self.wait_final()

    def wait_final(self):
        """Polls Redis until no refund is ACCEPTED or SETTLING (bounded)."""
        deadline = time.monotonic() + self.config.settle_timeout
        while time.monotonic() < deadline:
            states = self.redis.states(sorted(self.redis.refund_ids()))
            if not {"ACCEPTED", "SETTLING"} & set(states.values()):
                return
            time.sleep(0.25)


def _interrupted(signum, _frame):
    raise HarnessError(f"interrupted by {signal.Signals(signum).name}")


def main(argv):
    config = parse_config(argv)
    for path in (config.makegood, config.admin):
        if not os.access(path, os.X_OK):
            say(f"soak: no executable {path} (build it, or set SOAK_BIN_DIR)")
            return 2
    work_dir = tempfile.mkdtemp(prefix="makegood-soak-")
    say(
        f"soak: seed {config.seed} (replay with SOAK_SEED={config.seed}), "
        f"{config.seconds:.0f}s, binaries {os.path.dirname(config.makegood)}, "
        f"run directory {work_dir}"
    )
    # SIGTERM/SIGINT (a timeout, Ctrl-C) end the run as a harness error.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _interrupted)
    soak = Soak(config, work_dir)
    harness_error = None
    try:
        soak.start()
        soak.run()
        say(soak.coverage())
    except HarnessError as error:
        harness_error = error
        say(f"soak: harness error: {error}")
    except Exception as error:  # a bug of the soak itself: still clean up
        harness_error = error
        traceback.print_exc()
        sys.stderr.flush()
    finally:
        soak.cluster.shutdown()
        failed = harness_error is not None or soak.violations.total > 0
        if config.keep or failed:
            say(f"soak: logs, Redis data and violations.log kept in {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
        if soak.cluster.on_cluster:
            redis = soak.cluster.redis
            say(
                f"soak: cluster: {redis.failovers} failovers, {redis.moves} "
                f"slot moves ({redis.moved_keys} keys migrated), "
                f"{soak.skipped_faults} faults dropped waiting for a whole "
                f"cluster"
            )
        say(
            f"soak: seed {config.seed}, {soak.storms} storms, "
            f"{soak.cluster.makegood_kills} makegood kills, "
            f"{soak.cluster.redis_kills} redis kills, "
            f"{soak.violations.total} violations"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
