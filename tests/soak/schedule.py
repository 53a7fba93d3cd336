"""The soak's schedule: every action and fault, drawn from one PRNG.

Storm k's schedule depends only on SOAK_SEED and k, never on what happened
at run time, so a failing seed replays the same actions and faults (their
interleaving with makegood's own timing differs from run to run). Actions
that need a run-time fact (the refund id a rating announced) name the
request they refer to; if that request got no refund, the action does
nothing.
"""

import random
from dataclasses import dataclass, field

from model import Keyed, OrderRecord, fnv1a64

# The markets orders are drawn from (the default policy serves both): code,
# the factor on the catalogue's euro-cent prices (KRW has no minor unit: a
# 5.99 EUR ice cream is 5,990 won), and the weight. A member orders in both,
# so instant budgets, spend and caps per member per currency are exercised
# under faults.
CURRENCIES = [("EUR", 1, 3), ("KRW", 10, 1)]
FACTOR = {code: factor for code, factor, _ in CURRENCIES}
PARTITIONS = 64  # makegood's default --partitions, which the soak keeps
DAY = 86400

# (sku, category, unit price in minor units)
CATALOGUE = [
    ("ICE-CREAM-VANILLA-500ML", "frozen", 599),
    ("FROZEN-PIZZA", "frozen", 449),
    ("SOURDOUGH-LOAF", "bakery", 450),
    ("OAT-MILK-1L", "dairy_alt", 189),
    ("SALAD-BOWL", "chilled", 699),
    ("RED-WINE", "alcohol", 1299),
    ("BANANAS-1KG", "produce", 229),
    ("SALMON-FILLET", "chilled", 1899),
    ("OLIVE-OIL-1L", "pantry", 1099),
]
REASONS = list(range(1, 9))  # makegood.v1.Reason values, UNSPECIFIED excluded.

# Action kinds and their weights in a storm.
ACTIONS = {
    "rate": 22,  # a fresh rating
    "rate_dup": 7,  # the same new rating sent 2-3 times at once
    "rate_retry": 9,  # an earlier rating of this client sent again
    "rate_reuse": 4,  # an earlier key with another payload
    "rate_again": 5,  # a rated order rated again under a new key
    "grant": 9,  # a goodwill grant
    "grant_dup": 4,  # the same grant sent 2-3 times at once
    "grant_retry": 5,  # an earlier grant sent again
    "grant_reuse": 2,  # an earlier grant key with another amount
    "grant_foreign": 2,  # goodwill for a member on another's order
    "rate_and_grant": 5,  # a rating and a grant of one order at once
    "mark": 4,  # MarkRefundAbusive of an announced refund
    "rate_then_mark": 4,  # rate, then mark its refund at once
    "record_same": 4,  # an order recorded again, same money
    "record_changed": 3,  # an order recorded again, other money
    "grant_then_shrink": 3,  # goodwill, then the order re-recorded smaller
    "watch": 4,  # WatchRefund of an announced refund
    "read": 6,  # GetRefund / ListRefunds / GetOrder / GetTrust
    "upsert": 2,  # a member's tier changed
}


@dataclass
class Action:
    """One thing a client does (Client._<kind> in traffic.py)."""

    kind: str
    delay: float  # seconds to wait before it
    api: int  # which API process to call first
    args: dict = field(default_factory=dict)


@dataclass
class Fault:
    """One fault of a storm."""

    at: float  # seconds into the storm
    kind: str  # kill | pause | drop | stall | blackhole | cut | move
    # redis, api1, api2 or worker (proxy faults: its Redis link); on a Redis
    # Cluster: primary<k> (kill: the k-th primary in port order), redis<i>
    # (pause, drop, stall, blackhole: node i), p<N> (move: partition N),
    # a makegood (cut: its connections to every node).
    target: str
    seconds: float = 0.0  # pause/stall/blackhole length, restart delay
    sandbox: str = ""  # sandbox behaviour after a restart
    to: int = 0  # move: to the to-th of the other primaries (port order)


@dataclass
class Storm:
    """A storm's schedule."""

    number: int
    seconds: float
    members: list  # Member messages to create before the storm
    orders: list  # OrderRecords to record before the storm
    actions: dict  # client -> [Action]
    faults: list
    replays: list  # kids to replay after the storm


class Scheduler:
    """Draws storms. Holds the world drawn so far (members, orders, keys),
    which later storms refer back to."""

    def __init__(self, seed, pb, model, config, now):
        self.rng = random.Random(seed)
        self.pb = pb
        self.model = model
        self.config = config
        self.now = now  # the run's start, Unix seconds
        self.clients = [f"soak-c{i}" for i in range(config.clients)]
        self.members = []  # member ids
        self.tiers = {}  # member id -> current Member
        self.orders = []  # OrderRecords
        self.rated = []  # OrderRecords a rating was drawn for
        self.ratings = {c: [] for c in self.clients}  # client -> [Keyed]
        self.grants = {c: [] for c in self.clients}
        self.keyed = []  # every Keyed, in draw order
        self.counter = 0

    def _id(self, prefix):
        self.counter += 1
        return f"{prefix}{self.counter}"

    # ---- the world -----------------------------------------------------

    def _member(self, storm):
        """A new member: tier, tenure and flags drawn."""
        rng = self.rng
        member = self.pb.member.Member(
            member_id=self._id(f"s{storm}m"),
            tier=rng.choices(["basic", "plus", "premium"], [2, 3, 5])[0],
        )
        member.member_since.seconds = int(self.now - rng.uniform(30, 2000) * DAY)
        if rng.random() < 0.7:
            member.flags.append("verified")
        if rng.random() < 0.05:
            member.flags.append("chargeback")
        self.members.append(member.member_id)
        self.tiers[member.member_id] = member
        self.model.members[member.member_id] = [member]
        return member

    def _order(self, storm, member_id):
        """A new order of the member: lines, fee, payment, delivery time."""
        rng = self.rng
        currency = rng.choices(
            [c for c, _, _ in CURRENCIES], [w for _, _, w in CURRENCIES]
        )[0]
        factor = FACTOR[currency]
        order = self.pb.order.Order(
            order_id=self._id(f"s{storm}o"),
            member_id=member_id,
            store_id=f"store-{rng.randrange(5)}",
            courier_id=f"courier-{rng.randrange(8)}",
            currency=currency,
            delivery_fee_minor=rng.choice([0, 199, 299, 499]) * factor,
            payment_method=rng.choices([1, 2, 3, 4], [7, 1.5, 1, 0.5])[0],
        )
        big = rng.random() < 0.3
        for n in range(rng.randint(1, 4)):
            sku, category, price = rng.choice(CATALOGUE)
            quantity = rng.randint(1, 6 if big else 3)
            order.lines.add(
                line_id=f"l{n + 1}",
                sku=sku,
                category=category,
                quantity=quantity,
                amount_minor=quantity * price * factor,
            )
        order.total_minor = (
            sum(l.amount_minor for l in order.lines)
            + order.delivery_fee_minor
            + rng.choice([0, 0, 150]) * factor
        )
        # Within the 7-day rating window, rarely past it.
        age = rng.uniform(0.05, 5) if rng.random() < 0.95 else rng.uniform(8, 9)
        order.delivered_at.seconds = int(self.now - age * DAY)
        if order.payment_method == 1:
            order.payment_reference = f"pi_{order.order_id}"
        record = OrderRecord(order.order_id, member_id, [order])
        self.orders.append(record)
        self.model.add_order(record)
        return record

    def _variant(self, record, shrink):
        """A new version of an order: other money (shrunk to about a tenth,
        or a line's quantity changed) or only another courier."""
        order = type(record.versions[0])()
        order.CopyFrom(record.versions[-1])
        if shrink:
            for line in order.lines:
                line.quantity = 1
                line.amount_minor = max(1, line.amount_minor // 10)
            order.total_minor = (
                sum(l.amount_minor for l in order.lines) + order.delivery_fee_minor
            )
        else:
            order.courier_id = f"courier-{self.rng.randrange(8)}"
        record.versions.append(order)
        return len(record.versions) - 1

    # ---- requests ------------------------------------------------------

    def _rating_request(self, key, record):
        """A SubmitRating request for the order."""
        rng = self.rng
        order = record.versions[0]
        request = self.pb.rating_service.SubmitRatingRequest(
            idempotency_key=key,
            member_id=record.member,
            order_id=order.order_id,
            satisfaction_percent=rng.choice([0, 10, 20, 35, 50, 65, 80, 100]),
        )
        request.reasons.extend(sorted(rng.sample(REASONS, rng.choice([0, 0, 1, 2]))))
        if rng.random() < 0.4:
            for line in rng.sample(list(order.lines), rng.randint(1, len(order.lines))):
                rated = request.line_ratings.add(
                    line_id=line.line_id,
                    satisfaction_percent=rng.choice([0, 20, 50, 90]),
                )
                rated.reasons.extend(sorted(rng.sample(REASONS, rng.choice([0, 1]))))
        if rng.random() < 0.3:
            request.comment = "soak: " + rng.choice(["melted", "late", "ok", "ü"])
        return request

    def _new_rating(self, client, record):
        """A new rating key with its two payloads (the original, another)."""
        kid = self._id("r")
        request = self._rating_request(f"{kid}-{client}", record)
        other = type(request)()
        other.CopyFrom(request)
        other.satisfaction_percent = (request.satisfaction_percent + 7) % 101
        keyed = Keyed(
            kid, "rating", client, record.member, record.order_id, [request, other]
        )
        self.model.add_keyed(keyed)
        self.ratings[client].append(keyed)
        self.keyed.append(keyed)
        self.rated.append(record)
        return keyed

    def _new_grant(
        self, client, storm, record=None, amount=None, money=False, member=None
    ):
        """A goodwill grant (on `record`, or a random order or none), for the
        order's member unless `member` is given; with `money` never a coupon
        (a coupon does not count against the order)."""
        rng = self.rng
        kid = self._id("g")
        if record is None and rng.random() < 0.8:
            record = rng.choice(self.orders)
        if member is None:
            member = record.member if record else rng.choice(self.members)
        instrument = rng.choices([2, 1, 3], [5, 3, 0 if money else 2])[0]
        if record is None and instrument == 1:
            instrument = 2  # a card refund needs the order it refunds
        # A grant on an order is in the order's currency; one without an
        # order in either market.
        currency = (
            record.versions[0].currency
            if record
            else rng.choice([c for c, _, _ in CURRENCIES])
        )
        request = self.pb.goodwill_service.GrantGoodwillRequest(
            idempotency_key=f"{kid}-{client}",
            agent_id=f"agent-{storm}-{rng.randrange(2)}",
            member_id=member,
            order_id=record.order_id if record else "",
            amount_minor=amount
            or rng.choice([100, 250, 500, 1000, 2500, 6000]) * FACTOR[currency],
            currency=currency,
            instrument=instrument,
            reason=rng.choice(["late_delivery", "damaged", "courtesy"]),
            note=rng.choice(["", "called support", "second complaint"]),
        )
        other = type(request)()
        other.CopyFrom(request)
        other.amount_minor = request.amount_minor + 1
        keyed = Keyed(
            kid,
            "grant",
            client,
            member,
            record.order_id if record else "",
            [request, other],
        )
        self.model.add_keyed(keyed)
        self.grants[client].append(keyed)
        self.keyed.append(keyed)
        return keyed

    # ---- storms --------------------------------------------------------

    def storm(self, number):
        """Draws storm `number`: new members and orders, each client's actions,
        the faults and the keys replayed after it."""
        rng = self.rng
        config = self.config
        seconds = rng.uniform(0.6, 1.4) * config.storm_seconds
        members = [self._member(number) for _ in range(config.members_per_storm)]
        orders = [
            self._order(number, m.member_id)
            for m in members
            for _ in range(rng.randint(1, 3))
        ]
        actions = {}
        for client in self.clients:
            count = int(seconds * config.actions_per_second)
            actions[client] = [
                self._action(number, client, orders, seconds / count)
                for _ in range(count)
            ]
        faults = self._faults(seconds)
        replays = [
            k.kid for k in rng.sample(self.keyed, min(config.replays, len(self.keyed)))
        ]
        return Storm(number, seconds, members, orders, actions, faults, replays)

    def _action(self, storm, client, fresh_orders, mean_delay):
        """Draws one action of a client."""
        rng = self.rng
        kind = rng.choices(list(ACTIONS), list(ACTIONS.values()))[0]
        delay = rng.expovariate(1 / mean_delay)
        api = rng.randrange(2)

        def order():  # mostly this storm's orders, sometimes an older one
            return rng.choice(fresh_orders if rng.random() < 0.85 else self.orders)

        own_ratings, own_grants = self.ratings[client], self.grants[client]
        if kind in ("rate_retry", "rate_reuse") and not own_ratings:
            kind = "rate"
        if kind in ("grant_retry", "grant_reuse") and not own_grants:
            kind = "grant"
        if kind in ("rate_again",) and not self.rated:
            kind = "rate"
        if kind in ("mark", "watch") and not self.keyed:
            kind = "upsert"

        if kind in ("rate", "rate_dup"):
            keyed = self._new_rating(client, order())
            copies = rng.randint(2, 3) if kind == "rate_dup" else 1
            return Action(
                "send", delay, api, {"kid": keyed.kid, "payload": 0, "copies": copies}
            )
        if kind in ("rate_retry", "grant_retry", "rate_reuse", "grant_reuse"):
            pool = own_ratings if kind.startswith("rate") else own_grants
            # Half of them recent, half of them any: mostly past the TTL.
            keyed = rng.choice(pool[-20:] if rng.random() < 0.5 else pool)
            return Action(
                "send",
                delay,
                api,
                {
                    "kid": keyed.kid,
                    "payload": 1 if kind.endswith("reuse") else 0,
                    "copies": 1,
                },
            )
        if kind == "rate_again":
            keyed = self._new_rating(client, rng.choice(self.rated[-50:]))
            return Action(
                "send", delay, api, {"kid": keyed.kid, "payload": 0, "copies": 1}
            )
        if kind in ("grant", "grant_dup"):
            keyed = self._new_grant(client, storm)
            copies = rng.randint(2, 3) if kind == "grant_dup" else 1
            return Action(
                "send", delay, api, {"kid": keyed.kid, "payload": 0, "copies": copies}
            )
        if kind == "grant_foreign":
            # For a member of the same partition as the order's member: only
            # then does the member's order key name the other's order.
            record = order()
            partition = fnv1a64(record.member) % PARTITIONS
            others = [
                m
                for m in self.members
                if m != record.member and fnv1a64(m) % PARTITIONS == partition
            ]
            keyed = self._new_grant(
                client, storm, record, money=True, member=rng.choice(others or [None])
            )
            return Action(
                "send", delay, api, {"kid": keyed.kid, "payload": 0, "copies": 1}
            )
        if kind == "rate_and_grant":
            record = order()
            rating = self._new_rating(client, record)
            grant = self._new_grant(client, storm, record)
            return Action("together", delay, api, {"kids": [rating.kid, grant.kid]})
        if kind == "mark":
            return Action(
                "mark",
                delay,
                api,
                {"kids": self._candidates(60), "reverse": rng.random() < 0.6},
            )
        if kind == "rate_then_mark":
            keyed = self._new_rating(client, order())
            return Action(
                "rate_then_mark",
                delay,
                api,
                {"kids": [keyed.kid], "reverse": rng.random() < 0.7},
            )
        if kind in ("record_same", "record_changed"):
            record = order()
            version = (
                self._variant(record, shrink=True)
                if kind == "record_changed"
                else rng.randrange(len(record.versions))
            )
            return Action(
                "record", delay, api, {"order": record.order_id, "version": version}
            )
        if kind == "grant_then_shrink":
            record = rng.choice(fresh_orders)
            amount = max(1, record.versions[0].total_minor * 3 // 10)
            grant = self._new_grant(client, storm, record, amount, money=True)
            return Action(
                "grant_then_shrink",
                delay,
                api,
                {
                    "kid": grant.kid,
                    "order": record.order_id,
                    "version": self._variant(record, shrink=True),
                },
            )
        if kind == "watch":
            return Action("watch", delay, api, {"kids": self._candidates(12)})
        if kind == "read":
            return Action(
                "read",
                delay,
                api,
                {
                    "what": rng.choice(
                        ["refund", "list_member", "list_order", "order", "trust"]
                    ),
                    "kids": self._candidates(len(self.keyed)),
                    "member": rng.choice(self.members),
                    "order": rng.choice(self.orders).order_id,
                },
            )
        # upsert: a member's tier changes (or stays, then UNCHANGED).
        member_id = rng.choice(self.members)
        member = type(self.tiers[member_id])()
        member.CopyFrom(self.tiers[member_id])
        member.tier = rng.choice(["basic", "plus", "premium"])
        self.tiers[member_id] = member
        self.model.members[member_id].append(member)
        return Action("upsert", delay, api, {"member": member})

    def _candidates(self, recent):
        """Up to 8 of the `recent` latest keys, newest first: an action on
        "a refund" takes the first of them that announced one."""
        pool = self.keyed[-recent:]
        picked = self.rng.sample(range(len(pool)), min(8, len(pool)))
        return [pool[i].kid for i in sorted(picked, reverse=True)]

    def _faults(self, seconds):
        """The storm's faults at random times: makegood and Redis kills at
        the configured rates (a worker killed may come back with its card
        processor in an outage), plus pauses and proxy faults."""
        if self.config.redis == "cluster":
            return self._cluster_faults(seconds)
        rng = self.rng
        config = self.config

        count = self._count

        makegoods = ["api1", "api2", "worker"]
        faults = self._makegood_kills(seconds, makegoods)
        for _ in range(count(config.redis_kills)):
            faults.append(
                Fault(rng.uniform(0, seconds), "kill", "redis", rng.uniform(0, 1.5))
            )
        for _ in range(count(config.pauses)):
            faults.append(
                Fault(
                    rng.uniform(0, seconds),
                    "pause",
                    rng.choice(makegoods + ["redis"]),
                    rng.uniform(0.2, 2.5),
                )
            )
        for _ in range(count(config.proxy_faults)):
            faults.append(
                Fault(
                    rng.uniform(0, seconds),
                    rng.choice(["drop", "stall", "blackhole"]),
                    rng.choice(makegoods),
                    rng.uniform(0.3, 2.5),
                )
            )
        faults.sort(key=lambda f: f.at)
        return faults

    def _count(self, rate):
        """How many of a fault with mean `rate` per storm: its whole part,
        plus one with the chance of its fraction."""
        return int(rate) + (self.rng.random() < rate - int(rate))

    def _makegood_kills(self, seconds, makegoods):
        """The storm's makegood kills (the same on one Redis and a cluster),
        each with the sandbox processor's state while it is down."""
        rng = self.rng
        faults = []
        for _ in range(self._count(self.config.makegood_kills)):
            sandbox = "outage" if rng.random() < 0.25 else "normal"
            faults.append(
                Fault(
                    rng.uniform(0, seconds),
                    "kill",
                    rng.choice(makegoods),
                    rng.uniform(0, 1.5),
                    sandbox,
                )
            )
        return faults

    def _cluster_faults(self, seconds):
        """The storm's faults on a Redis Cluster (redis_cluster.py): makegood
        kills as on one Redis; primary kills (the killed node started again
        `seconds` after its replica took over); pauses of makegood processes
        or of a node (a node's below the 2 s node timeout); a node's clients
        dropped, stalled, or stalled then dropped; slot moves of a
        partition."""
        rng = self.rng
        config = self.config

        count = self._count

        makegoods = ["api1", "api2", "worker"]
        nodes = [f"redis{i}" for i in range(6)]
        faults = self._makegood_kills(seconds, makegoods)
        for _ in range(count(config.redis_kills)):
            faults.append(
                Fault(
                    rng.uniform(0, seconds),
                    "kill",
                    f"primary{rng.randrange(3)}",
                    rng.uniform(0, 1.5),
                )
            )
        for _ in range(count(config.pauses)):
            target = rng.choice(makegoods + nodes)
            faults.append(
                Fault(
                    rng.uniform(0, seconds),
                    "pause",
                    target,
                    rng.uniform(0.2, 1.5 if target in nodes else 2.5),
                )
            )
        for _ in range(count(config.proxy_faults)):
            # A makegood's links: cut (no proxy to stall them); a node's
            # clients: dropped, stalled, stalled then dropped.
            target = rng.choice(makegoods + nodes)
            faults.append(
                Fault(
                    rng.uniform(0, seconds),
                    rng.choice(["drop", "stall", "blackhole"])
                    if target in nodes
                    else "cut",
                    target,
                    rng.uniform(0.3, 2.5),
                )
            )
        for _ in range(count(config.slot_moves)):
            faults.append(
                Fault(
                    rng.uniform(0, seconds * 0.7),
                    "move",
                    f"p{rng.randrange(PARTITIONS)}",
                    rng.uniform(0.3, 1.5),
                    to=rng.randrange(2),
                )
            )
        faults.sort(key=lambda f: f.at)
        return faults
