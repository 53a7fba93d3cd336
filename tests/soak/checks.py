"""The soak's invariants, checked after every storm once the system is quiet.

They compare what makegood holds (read directly in Redis, and through the
public API) with what its clients were told (the model). Each broken
invariant is reported as one VIOLATION line naming the rule, the ids, what
was expected and what was found.

Final states a refund may end in, and why:
  SUCCEEDED        the normal end: paid exactly once;
  REVERSED         only if a MarkRefundAbusive with reverse_refund won the
                   mark (the refund's abusive_reason) and the refund was paid
                   as wallet credit or a coupon; then it must be REVERSED;
  NEEDS_ATTENTION  allowed only until the operator acts: the soak runs
                   `makegood_admin reconcile --fix`, after which a refund
                   the provider never paid must have been sent again;
  FAILED           never: every settlement worker falls back to wallet
                   credit on a declined card (--settlement_fallback=wallet);
  ACCEPTED/SETTLING  never once settlement had its time.
"""

import collections
import difflib
import json
import subprocess

from google.protobuf import text_format

from model import fnv1a64, money_fingerprint, normalized, partition_tags

FINAL = {"SUCCEEDED", "FAILED", "NEEDS_ATTENTION", "REVERSED"}
# Direct transitions of a refund (a mark is recorded as from == to).
TRANSITIONS = {
    "": {"ACCEPTED"},
    "ACCEPTED": {"SETTLING", "NEEDS_ATTENTION"},
    "SETTLING": {"SUCCEEDED", "FAILED", "NEEDS_ATTENTION", "REVERSED"},
    "SUCCEEDED": {"REVERSED"},
    "NEEDS_ATTENTION": {"ACCEPTED", "SETTLING", "SUCCEEDED", "FAILED"},
    "FAILED": set(),
    "REVERSED": set(),
}
STATE_NAMES = {
    1: "ACCEPTED",
    2: "SETTLING",
    3: "SUCCEEDED",
    4: "FAILED",
    5: "NEEDS_ATTENTION",
    6: "REVERSED",
}
INSTRUMENTS = {1: "original_payment", 2: "wallet", 3: "coupon"}
ACCEPTANCE_KINDS = {"refund_accepted", "goodwill_granted"}
PRINTED_PER_RULE = 4  # per storm; every violation goes to the log file


def reachable(source, target):
    """Whether `target` can follow `source` through any transitions."""
    seen, todo = set(), [source]
    while todo:
        state = todo.pop()
        for following in TRANSITIONS.get(state, ()):
            if following == target:
                return True
            if following not in seen:
                seen.add(following)
                todo.append(following)
    return source == target


def text(value):
    """A Redis value as text."""
    return value.decode() if isinstance(value, bytes) else (value or "")


def as_int(value):
    try:
        return int(text(value))
    except ValueError:
        return 0


class Violations:
    """Counts and reports violations."""

    def __init__(self, log_path, emit):
        self.total = 0
        self.seen = set()
        self.storm_rules = collections.Counter()
        self.by_rule = collections.Counter()
        self.log = open(log_path, "a", encoding="utf-8")
        self.emit = emit

    def new_storm(self):
        """Says how many were not printed in the storm, and starts counting anew."""
        hidden = {
            r: n - PRINTED_PER_RULE
            for r, n in self.storm_rules.items()
            if n > PRINTED_PER_RULE
        }
        if hidden:
            self.emit(
                "  (more of the same: "
                + ", ".join(f"{r} +{n}" for r, n in sorted(hidden.items()))
                + "; see "
                + self.log.name
                + ")"
            )
        self.storm_rules.clear()

    def add(self, rule, detail):
        """Counts and reports a violation, once: the state is checked again
        after every storm, and what still holds the same is not new."""
        if (rule, detail) in self.seen:
            return
        self.seen.add((rule, detail))
        self.total += 1
        self.by_rule[rule] += 1
        self.storm_rules[rule] += 1
        line = f"VIOLATION [{rule}] {detail}"
        self.log.write(line + "\n")
        self.log.flush()
        if self.storm_rules[rule] <= PRINTED_PER_RULE:
            self.emit(line)


def difference(first, later):
    """The lines of two messages' text form that differ (`replayed` aside):
    '-' as first answered, '+' as later answered."""
    lines = []
    for message in (first, later):
        copy = type(message)()
        copy.CopyFrom(message)
        copy.replayed = False
        lines.append(text_format.MessageToString(copy).splitlines())
    changed = [
        f"{line[0]} {line[1:].strip()}"
        for line in difflib.unified_diff(*lines, n=0, lineterm="")
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    return " | ".join(changed)[:800]


def one_line(value):
    """A field's value on one line (messages in text form)."""
    if hasattr(value, "DESCRIPTOR"):
        return "{" + text_format.MessageToString(value, as_one_line=True) + "}"
    return repr(value)


def short(message):
    """A message on one line, for a violation's detail."""
    return text_format.MessageToString(message, as_one_line=True)[:400]


class RedisState:
    """makegood's state read directly in Redis (no makegood code involved)."""

    def __init__(self, redis, partitions):
        self.redis = redis
        self.partitions = partitions
        self.tags = partition_tags(partitions)  # partition -> "p<N>.<s>"
        self.ledger_last = {}  # partition -> last stream id read
        self.ledger_balances = collections.defaultdict(collections.Counter)
        self.postings = collections.defaultdict(list)  # txn -> postings

    def partition_prefix(self, p):
        """The prefix of every key of partition p."""
        return f"mg:{{{self.tags[p]}}}:"

    def prefix(self, entity):
        """The key prefix of the partition a member (or order) id is in."""
        return self.partition_prefix(fnv1a64(entity) % self.partitions)

    def refund_key(self, refund_id):
        """rf_<partition>_<hex> names its partition."""
        p = int(refund_id.split("_")[1])
        return self.partition_prefix(p) + f"refund:{refund_id}"

    def refund_ids(self):
        """Every refund in Redis (SCAN)."""
        ids = set()
        for key in self.redis.scan_iter(match="mg:{p*}:refund:rf_*", count=1000):
            key = text(key)
            if not key.endswith(":events"):
                ids.add(key.rsplit(":", 1)[1])
        return ids

    def states(self, refund_ids):
        """refund id -> state."""
        pipe = self.redis.pipeline(transaction=False)
        for refund_id in refund_ids:
            pipe.hget(self.refund_key(refund_id), "state")
        return {r: text(v) for r, v in zip(refund_ids, pipe.execute())}

    def hashes(self, keys):
        """HGETALL of each key (field names as text), in one pipeline."""
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        return [{text(k): v for k, v in h.items()} for h in pipe.execute()]

    def refunds(self, refund_ids):
        """refund id -> (hash fields, events as dicts)."""
        ids = sorted(refund_ids)
        pipe = self.redis.pipeline(transaction=False)
        for refund_id in ids:
            pipe.hgetall(self.refund_key(refund_id))
            pipe.xrange(self.refund_key(refund_id) + ":events")
        replies = pipe.execute()
        out = {}
        for i, refund_id in enumerate(ids):
            fields = {text(k): v for k, v in replies[2 * i].items()}
            events = [
                {text(k): text(v) for k, v in entry.items()}
                for _, entry in replies[2 * i + 1]
            ]
            out[refund_id] = (fields, events)
        return out

    def sandbox_books(self):
        """Every partition's sandbox processor books, merged."""
        keys = [
            self.partition_prefix(p) + "psp:sandbox" for p in range(self.partitions)
        ]
        books = {}
        for book in self.hashes(keys):
            books.update({k: text(v) for k, v in book.items()})
        return books

    def read_ledger(self):
        """Reads the ledger entries written since the last call into the
        running replay; the balances hashes as stored."""
        pipe = self.redis.pipeline(transaction=False)
        for p in range(self.partitions):
            last = self.ledger_last.get(p)
            pipe.xrange(
                self.partition_prefix(p) + "ledger", f"({last}" if last else "-"
            )
        for p, entries in enumerate(pipe.execute()):
            for entry_id, entry in entries:
                e = {text(k): text(v) for k, v in entry.items()}
                amount = as_int(e.get("amount_minor"))
                self.ledger_balances[p][e.get("debit", "")] += amount
                self.ledger_balances[p][e.get("credit", "")] -= amount
                # The stream id, (ms, seq): the order postings were made in.
                e["_id"] = tuple(int(x) for x in text(entry_id).split("-"))
                self.postings[e.get("txn", "")].append(e)
                self.ledger_last[p] = text(entry_id)
        stored = self.hashes(
            self.partition_prefix(p) + "ledger:balances" for p in range(self.partitions)
        )
        return [{k: as_int(v) for k, v in h.items()} for h in stored]

    def agent_days(self, primary):
        """(agent id, day, currency) -> spent, for every agent goodwill day
        (the one-currency keys of before issue 13 count as `primary`)."""
        keys = [
            text(k) for k in self.redis.scan_iter(match="mg:{g*}:agent:*", count=1000)
        ]
        out = {}
        for key, fields in zip(keys, self.hashes(keys)):
            _, _, rest = key.partition(":agent:")
            agent, _, day = rest.rpartition(":")
            out[(agent, int(day), primary)] = as_int(fields.get("spent"))
        # Kept per currency since issue 13: agent_budget:<CUR>:<day>:<agent>.
        keys = [
            text(k)
            for k in self.redis.scan_iter(match="mg:{g*}:agent_budget:*", count=1000)
        ]
        for key, fields in zip(keys, self.hashes(keys)):
            _, _, rest = key.partition(":agent_budget:")
            currency, day, agent = rest.split(":", 2)
            at = (agent, int(day), currency)
            out[at] = out.get(at, 0) + as_int(fields.get("spent"))
        return out


class Checker:
    """Runs every invariant against the model and makegood's state."""

    def __init__(self, model, config, redis_state, policy, pb, call, admin, violations):
        self.model = model
        self.config = config
        self.redis = redis_state
        self.policy = policy  # makegood.v1.Policy in force
        self.pb = pb
        self.call = call  # (method, request) -> Answer
        self.admin = admin  # command -> makegood_admin argv
        self.v = violations

    def run(self, storm_reads, touched):
        """Every check, after a storm (`touched`: refunds the storm acted on)."""
        refund_ids = self.redis.refund_ids()
        refunds = self.redis.refunds(refund_ids)
        announced = self.check_keys(refunds)
        self.check_refunds(refunds, announced)
        self.check_money(refunds)
        self.check_ledger(refunds)
        self.check_orders(refunds)
        self.check_budgets(refunds)
        self.check_watches(refunds)
        self.check_reads(storm_reads, announced)
        self.check_api_view(refunds, touched)
        self.check_admin()

    # ---- keys: what each idempotency key answered ----------------------

    def check_keys(self, refunds):
        """One payload per key, identical answers, announced refunds exist
        unchanged. Returns refund id -> (Keyed, announcing attempt)."""
        announced = {}
        for keyed in self.model.keys.values():
            oks = sorted(keyed.ok_attempts(), key=lambda a: a.received)
            if not oks:
                continue
            first = oks[0]
            payloads = {a.payload for a in oks}
            if len(payloads) > 1:
                self.v.add(
                    "key-one-payload",
                    f"{keyed.kid} ({keyed.kind}, client {keyed.client}, "
                    f"key {keyed.requests[0].idempotency_key}): OK "
                    f"answers to different payloads {sorted(payloads)}",
                )
            body = normalized(first.answer.response)
            for other in oks[1:]:
                if normalized(other.answer.response) != body:
                    self.v.add(
                        "replay-identical",
                        f"{keyed.kid} ({keyed.kind}, client "
                        f"{keyed.client}, key "
                        f"{keyed.requests[0].idempotency_key}): a later "
                        f"answer ({other.phase}, payload "
                        f"{other.payload}, {other.sent - first.received:.0f}s "
                        f"after the first) differs: "
                        + difference(first.answer.response, other.answer.response),
                    )
                    break
            for attempt in keyed.attempts:
                if (
                    attempt.payload == first.payload
                    and attempt.answer.reason == "IDEMPOTENCY_KEY_REUSED"
                    and attempt.sent > first.received
                ):
                    self.v.add(
                        "reused-own-payload",
                        f"{keyed.kid}: its own payload refused as "
                        f"IDEMPOTENCY_KEY_REUSED after it was answered OK",
                    )
            if keyed.kind == "grant":
                owner = self.model.orders[keyed.order].member if keyed.order else ""
                if owner and owner != keyed.member:
                    self.v.add(
                        "goodwill-owner",
                        f"{keyed.kid}: goodwill for member {keyed.member} on "
                        f"order {keyed.order} of member {owner} answered OK",
                    )
                response = first.answer.response
                if (
                    response.agent_budget_remaining_minor < 0
                    or response.member_budget_remaining_minor < 0
                ):
                    self.v.add("budget-answer", f"{keyed.kid}: {short(response)}")
            refund = keyed.refund()
            if refund is None:
                continue
            announced[refund.refund_id] = (keyed, first)
            if refund.refund_id not in refunds:
                self.v.add(
                    "refund-missing",
                    f"{refund.refund_id} announced to {keyed.kid} "
                    f"({keyed.kind}) is not in Redis",
                )
                continue
            self.compare_refund(keyed, refund, refunds[refund.refund_id][0])
        for refund_id in refunds:
            if refund_id not in announced:
                fields = refunds[refund_id][0]
                self.v.add(
                    "refund-unannounced",
                    f"{refund_id} (order {text(fields.get('order_id'))}, "
                    f"{text(fields.get('amount_minor'))} "
                    f"{text(fields.get('instrument'))}, "
                    f"{text(fields.get('state'))}) is in Redis but no "
                    f"answer announced it",
                )
        return announced

    def compare_refund(self, keyed, refund, fields):
        """The refund as announced vs as recorded (created_at, amount, ...
        never change; the instrument only by a card decline's fallback)."""
        stored = type(refund)()
        stored.ParseFromString(fields.get("pb", b""))
        problems = []
        for name in (
            "amount_minor",
            "currency",
            "order_id",
            "member_id",
            "rating_id",
            "created_at",
        ):
            if getattr(stored, name) != getattr(refund, name):
                problems.append(
                    f"pb.{name} {one_line(getattr(refund, name))} -> "
                    f"{one_line(getattr(stored, name))}"
                )
        if as_int(fields.get("amount_minor")) != refund.amount_minor:
            problems.append(
                f"amount_minor {refund.amount_minor} -> "
                f"{text(fields.get('amount_minor'))}"
            )
        instrument = text(fields.get("instrument"))
        expected = INSTRUMENTS.get(refund.instrument, "?")
        if instrument != expected and not (
            expected == "original_payment"
            and instrument == "wallet"
            and text(fields.get("declined_by"))
        ):
            problems.append(f"instrument {expected} -> {instrument}")
        if problems:
            self.v.add(
                "refund-changed",
                f"{refund.refund_id} of {keyed.kid} ({keyed.kind}): "
                + "; ".join(problems),
            )

    # ---- refunds: final states and their trails ------------------------

    def check_refunds(self, refunds, announced):
        """Final states (see the module docstring) and audit trails."""
        for refund_id, (fields, events) in refunds.items():
            state = text(fields.get("state"))
            instrument = text(fields.get("instrument"))
            where = (
                f"{refund_id} ({text(fields.get('amount_minor'))} {instrument}, "
                f"order {text(fields.get('order_id'))})"
            )
            if state not in FINAL:
                self.v.add(
                    "refund-not-final",
                    f"{where} still {state} after settlement had "
                    f"{self.config.settle_timeout:.0f}s",
                )
            elif state == "FAILED":
                self.v.add(
                    "refund-failed",
                    f"{where} FAILED although declined cards fall "
                    f"back to wallet credit: {text(fields.get('state_reason'))}",
                )
            elif state == "NEEDS_ATTENTION":
                self.v.add(
                    "refund-attention",
                    f"{where} still NEEDS_ATTENTION after `reconcile "
                    f"--fix` ({text(fields.get('state_reason'))}, provider "
                    f"{text(fields.get('provider')) or 'none'}): never paid",
                )
            reverse = text(fields.get("abusive_reason")) == "soak-reverse"
            payable = state in ("SUCCEEDED", "REVERSED")
            if reverse and payable and instrument in ("wallet", "coupon"):
                if state != "REVERSED":
                    self.v.add(
                        "reversal-missing",
                        f"{where}: marked abusive with reverse_refund, "
                        f"paid as {instrument}, but {state}",
                    )
            elif state == "REVERSED":
                self.v.add(
                    "reversal-unexpected",
                    f"{where} REVERSED (abusive_reason "
                    f"{text(fields.get('abusive_reason'))!r})",
                )
            self.check_events(where, state, events)

    def check_events(self, where, state, events):
        """The trail counts 1..n, follows TRANSITIONS and ends in `state`."""
        previous = ""
        for n, event in enumerate(events, 1):
            problem = None
            if as_int(event.get("seq")) != n:
                problem = f"event {n} has seq {event.get('seq')}"
            elif event.get("from", "") != previous:
                problem = f"event {n} from {event.get('from')!r} after {previous!r}"
            elif event.get("to") != previous and event.get("to") not in TRANSITIONS.get(
                previous, ()
            ):
                problem = f"event {n}: {previous or 'new'} -> {event.get('to')}"
            if problem:
                trail = " ".join(f"{e.get('seq')}:{e.get('to')}" for e in events)
                self.v.add("refund-events", f"{where}: {problem} (trail {trail})")
                return
            previous = event.get("to", "")
        if previous != state:
            self.v.add(
                "refund-events", f"{where}: trail ends in {previous!r}, state {state}"
            )

    # ---- money: wallets and the sandbox processor ----------------------

    def check_money(self, refunds):
        """Per member: each refund paid once or never, and the wallet balance."""
        books = self.redis.sandbox_books()
        by_member = collections.defaultdict(list)
        for refund_id, (fields, _) in refunds.items():
            by_member[text(fields.get("member_id"))].append((refund_id, fields))
        members = sorted(by_member)
        wallets = self.redis.hashes(
            self.redis.prefix(m) + f"wallet:{m}" for m in members
        )
        for member, wallet in zip(members, wallets):
            wallet = {text(k): as_int(v) for k, v in wallet.items()}
            # One balance per currency (bal:<CUR>).
            balance = collections.Counter()
            for refund_id, fields in by_member[member]:
                balance[text(fields.get("currency"))] += self.check_payout(
                    refund_id, fields, wallet, books
                )
            currencies = set(balance) | {
                k.split(":", 1)[1] for k in wallet if k.startswith("bal:")
            }
            for currency in sorted(currencies):
                if wallet.get(f"bal:{currency}", 0) != balance[currency]:
                    self.v.add(
                        "wallet-balance",
                        f"member {member}: wallet bal:{currency} "
                        f"{wallet.get(f'bal:{currency}', 0)}, its SUCCEEDED "
                        f"wallet refunds in {currency} sum to "
                        f"{balance[currency]}",
                    )

    def check_payout(self, refund_id, fields, wallet, books):
        """Money moved once for a paid refund, never otherwise. Returns what
        the refund adds to the member's wallet balance."""
        state = text(fields.get("state"))
        instrument = text(fields.get("instrument"))
        provider = text(fields.get("provider"))
        amount = as_int(fields.get("amount_minor"))
        paid = as_int(books.get(f"paid:{refund_id}", "0"))
        problems = []
        settled = state in ("SUCCEEDED", "REVERSED")
        want_tx = settled and instrument == "wallet"
        if (f"tx:{refund_id}" in wallet) != want_tx or (
            want_tx and wallet[f"tx:{refund_id}"] != amount
        ):
            problems.append(f"wallet tx {wallet.get(f'tx:{refund_id}')}")
        want_reversed = state == "REVERSED" and instrument == "wallet"
        if (f"reversed:{refund_id}" in wallet) != want_reversed:
            problems.append(f"wallet reversed {wallet.get(f'reversed:{refund_id}')}")
        want_coupon = state == "SUCCEEDED" and instrument == "coupon"
        if (f"coupon:{refund_id}" in wallet) != want_coupon:
            problems.append(f"coupon {wallet.get(f'coupon:{refund_id}')}")
        want_paid = 1 if state == "SUCCEEDED" and provider == "sandbox" else 0
        if paid != want_paid or (
            paid and as_int(books.get(f"amount:{refund_id}")) != amount
        ):
            problems.append(
                f"sandbox paid {paid} (amount {books.get(f'amount:{refund_id}')})"
            )
        if problems:
            self.v.add(
                "money-once",
                f"{refund_id} {state} {amount} {instrument} via "
                f"{provider or 'none'}: " + ", ".join(problems),
            )
        return amount if state == "SUCCEEDED" and instrument == "wallet" else 0

    # ---- orders: never refunded above what was paid --------------------

    def check_orders(self, refunds):
        """Per order: the ceiling, refunded_minor, its total, frozen money, caps."""
        by_order = collections.defaultdict(list)
        ids_of = collections.defaultdict(list)
        for refund_id, (fields, _) in refunds.items():
            by_order[text(fields.get("order_id"))].append(fields)
            ids_of[text(fields.get("order_id"))].append(refund_id)
        keys_of = collections.defaultdict(list)
        for keyed in self.model.keys.values():
            keys_of[keyed.order].append(keyed)
        records = list(self.model.orders.values())
        stored = self.redis.hashes(
            self.redis.prefix(r.member) + f"order:{r.order_id}" for r in records
        )
        for record, order in zip(records, stored):
            if not order:
                continue  # never recorded (its RecordDelivery was refused)
            total = as_int(order.get("total_minor"))
            money = sum(
                as_int(f.get("amount_minor"))
                for f in by_order[record.order_id]
                if text(f.get("instrument")) != "coupon"
                and text(f.get("state")) != "FAILED"
            )
            sent = {v.total_minor for v in record.versions}
            acknowledged = [a for a in record.attempts if a.answer.ok]
            if total not in sent:
                self.v.add(
                    "order-total",
                    f"order {record.order_id}: total "
                    f"{total} is none the client sent {sorted(sent)}",
                )
            if money > total:
                self.v.add(
                    "order-ceiling",
                    f"order {record.order_id}: refunded {money} > paid "
                    f"{total} (versions sent: {sorted(sent)}; refunds "
                    + ", ".join(
                        f"{text(f.get('amount_minor'))} "
                        f"{text(f.get('instrument'))} "
                        f"{text(f.get('state'))}"
                        for f in by_order[record.order_id]
                    )
                    + ")",
                )
            if as_int(order.get("refunded_minor")) != money:
                self.v.add(
                    "order-refunded",
                    f"order {record.order_id}: refunded_minor "
                    f"{text(order.get('refunded_minor'))}, its money "
                    f"refunds sum to {money}",
                )
            self.check_frozen(record, acknowledged, keys_of[record.order_id])
            self.check_tier_cap(record, ids_of[record.order_id], refunds)
        self.check_period_caps(refunds)

    def check_frozen(self, record, acknowledged, keys):
        """Once the order was rated or money was granted on it (`keys`: the
        order's ratings and grants), its money fields never change."""
        moved = [
            attempt
            for keyed in keys
            for attempt in keyed.ok_attempts()
            if keyed.kind == "rating" or keyed.requests[attempt.payload].instrument != 3
        ]
        if not moved:
            return
        first = min(moved, key=lambda a: a.received)
        # The money the order may have had when money first moved: every
        # version sent before that was accepted or may have been.
        possible = {
            money_fingerprint(record.versions[a.payload])
            for a in record.attempts
            if a.sent < first.received and (a.answer.ok or a.answer.transient)
        }
        for attempt in acknowledged:
            version = record.versions[attempt.payload]
            if (
                attempt.sent > first.received
                and money_fingerprint(version) not in possible
            ):
                self.v.add(
                    "money-frozen",
                    f"order {record.order_id}: re-recorded with total "
                    f"{version.total_minor} (answer "
                    f"{attempt.answer.response.result}) after money "
                    f"moved on it (first at its {first.phase} answer)",
                )

    def goodwill_budgets(self, currency):
        """(agent daily, member 30-day) goodwill budgets in `currency`: the
        market's own when the policy gives them, else the server's flags."""
        for market in self.policy.markets:
            if market.currency == currency and market.HasField("goodwill"):
                return (
                    market.goodwill.agent_daily_minor,
                    market.goodwill.member_30d_minor,
                )
        return (self.config.agent_budget, self.config.member_budget)

    def tier_caps(self, member, currency):
        """The largest per-order and 30-day caps, in `currency`, of the tiers
        the member had: the market's money when the policy has markets, else
        the tiers' own."""
        tiers = {m.tier for m in self.model.members.get(member, [])}
        caps = [t for t in self.policy.tiers if t.name in tiers]
        for market in self.policy.markets:
            if market.currency == currency:
                caps = [t for t in market.tiers if t.tier in tiers]
        return (
            max(t.max_refund_per_order_minor for t in caps),
            max(t.max_refund_per_period_minor for t in caps),
        )

    def check_tier_cap(self, record, refund_ids, refunds):
        """A rating's money refund never takes the order's money refunds
        committed before it (ratings and goodwill, in ledger order) above
        the tier's per-order cap."""
        money = []
        for refund_id in refund_ids:
            fields = refunds[refund_id][0]
            accepted = [
                e["_id"]
                for e in self.redis.postings.get(refund_id, ())
                if e.get("kind") in ACCEPTANCE_KINDS
            ]
            if (
                accepted
                and text(fields.get("instrument")) != "coupon"
                and text(fields.get("state")) != "FAILED"
            ):
                money.append((min(accepted), refund_id, fields))
        before = 0
        for _, refund_id, fields in sorted(money):
            cap = self.tier_caps(record.member, text(fields.get("currency")))[0]
            amount = as_int(fields.get("amount_minor"))
            if text(fields.get("rating_id")) and before + amount > cap:
                self.v.add(
                    "tier-cap",
                    f"order {record.order_id}: rating refund {refund_id} "
                    f"of {amount} after {before} refunded, above the "
                    f"tier's per-order cap {cap}",
                )
            before += amount

    def check_period_caps(self, refunds):
        """Ratings' money per member within the tier's 30-day cap (the run is
        shorter than 30 days)."""
        rated = collections.Counter()
        for fields, _ in refunds.values():
            if (
                text(fields.get("rating_id"))
                and text(fields.get("instrument")) != "coupon"
                and text(fields.get("state")) != "FAILED"
            ):
                rated[
                    (text(fields.get("member_id")), text(fields.get("currency")))
                ] += as_int(fields.get("amount_minor"))
        for (member, currency), amount in rated.items():
            cap = self.tier_caps(member, currency)[1]
            if amount > cap:
                self.v.add(
                    "tier-cap",
                    f"member {member}: ratings refunded {amount} {currency} "
                    f"in the run, above the 30-day cap {cap}",
                )

    # ---- the ledger ------------------------------------------------------

    def check_ledger(self, refunds):
        """The ledger replays to the balances, sums to zero, and per refund."""
        stored = self.redis.read_ledger()
        for p, balances in enumerate(stored):
            replayed = {k: v for k, v in self.redis.ledger_balances[p].items() if v}
            if {k: v for k, v in balances.items() if v} != replayed:
                diff = {
                    k: (balances.get(k, 0), replayed.get(k, 0))
                    for k in set(balances) | set(replayed)
                    if balances.get(k, 0) != replayed.get(k, 0)
                }
                self.v.add(
                    "ledger-replay",
                    f"partition {p}: balances hash vs "
                    f"replayed stream differ (account: (hash, replay)) "
                    f"{dict(list(diff.items())[:5])}",
                )
            sums = collections.Counter()
            for account, value in balances.items():
                sums[account.rsplit(":", 1)[-1]] += value
            for currency, total in sums.items():
                if total:
                    self.v.add(
                        "ledger-sum",
                        f"partition {p}: {currency} balances sum to {total}",
                    )
        for refund_id, (fields, _) in refunds.items():
            self.check_postings(refund_id, fields)
        self.check_wallet_accounts(refunds, stored)

    def check_postings(self, refund_id, fields):
        """The refund's postings: accepted once, and once final, nothing
        left payable; a reversal or failure takes back its own expense."""
        postings = self.redis.postings.get(refund_id, [])
        state = text(fields.get("state"))
        amount = as_int(fields.get("amount_minor"))
        net = collections.Counter()
        for e in postings:
            net[e.get("debit")] += as_int(e.get("amount_minor"))
            net[e.get("credit")] -= as_int(e.get("amount_minor"))
        accepted = [e for e in postings if e.get("kind") in ACCEPTANCE_KINDS]
        payable = sum(v for k, v in net.items() if k.startswith("payable:"))
        expense = {k: v for k, v in net.items() if k.startswith("expense:") and v}
        problems = []
        if len(accepted) != 1:
            problems.append(f"{len(accepted)} acceptance postings")
        if any(as_int(e.get("amount_minor")) != amount for e in postings):
            problems.append("a posting of another amount")
        want_payable = (
            -amount if state in ("NEEDS_ATTENTION", "ACCEPTED", "SETTLING") else 0
        )
        if payable != want_payable:
            problems.append(f"payable {payable}, expected {want_payable}")
        want_expense = (
            amount
            if state in ("SUCCEEDED", "NEEDS_ATTENTION", "ACCEPTED", "SETTLING")
            else 0
        )
        if sum(expense.values()) != want_expense or len(expense) > 1:
            problems.append(f"expense {expense}, expected {want_expense}")
        if problems:
            kinds = " ".join(e.get("kind", "?") for e in postings)
            self.v.add(
                "ledger-refund",
                f"{refund_id} {state} {amount}: "
                + "; ".join(problems)
                + f" (postings: {kinds})",
            )

    def check_wallet_accounts(self, refunds, stored):
        """The ledger's wallet account of each member mirrors its wallet."""
        members = {text(f.get("member_id")) for f, _ in refunds.values()}
        members = sorted(members)
        wallets = self.redis.hashes(
            self.redis.prefix(m) + f"wallet:{m}" for m in members
        )
        for member, wallet in zip(members, wallets):
            p = fnv1a64(member) % self.redis.partitions
            wallet = {text(k): v for k, v in wallet.items()}
            prefix = f"wallet:member:{member}:"
            currencies = {
                k[len(prefix) :] for k in stored[p] if k.startswith(prefix)
            } | {k.split(":", 1)[1] for k in wallet if k.startswith("bal:")}
            for currency in sorted(currencies):
                account = -stored[p].get(prefix + currency, 0)
                if account != as_int(wallet.get(f"bal:{currency}")):
                    self.v.add(
                        "ledger-wallet",
                        f"member {member}: ledger wallet account {account} "
                        f"{currency}, wallet bal:{currency} "
                        f"{as_int(wallet.get(f'bal:{currency}'))}",
                    )

    # ---- budgets ---------------------------------------------------------

    def check_budgets(self, refunds):
        """Goodwill within the agents' daily and the members' 30-day budgets,
        never leaking; no negative instant budget."""
        by_agent_day = collections.Counter()
        by_member = collections.Counter()
        for fields, _ in refunds.values():
            agent = text(fields.get("goodwill_agent"))
            if agent:
                day = as_int(fields.get("created_at_ms")) // 86400000
                currency = text(fields.get("currency"))
                by_agent_day[(agent, day, currency)] += as_int(
                    fields.get("amount_minor")
                )
                by_member[(text(fields.get("member_id")), currency)] += as_int(
                    fields.get("amount_minor")
                )
        primary = (
            self.policy.markets[0].currency
            if self.policy.markets
            else self.policy.currency
        )
        spent = self.redis.agent_days(primary)
        for (agent, day, currency), granted in by_agent_day.items():
            budget = self.goodwill_budgets(currency)[0]
            if granted > budget:
                self.v.add(
                    "budget-agent",
                    f"agent {agent} day {day}: granted "
                    f"{granted} {currency}, daily budget {budget}",
                )
            if spent.get((agent, day, currency), 0) < granted:
                self.v.add(
                    "budget-agent-leak",
                    f"agent {agent} day {day}: budget spent "
                    f"{spent.get((agent, day, currency), 0)} {currency} "
                    f"< granted {granted}",
                )
        for (agent, day, currency), value in spent.items():
            budget = self.goodwill_budgets(currency)[0]
            if not 0 <= value <= budget:
                self.v.add(
                    "budget-agent",
                    f"agent {agent} day {day}: spent "
                    f"{value} {currency} outside 0..{budget}",
                )
        for (member, currency), granted in by_member.items():
            budget = self.goodwill_budgets(currency)[1]
            if granted > budget:
                self.v.add(
                    "budget-member",
                    f"member {member}: granted {granted} {currency}, 30-day "
                    f"budget {budget}",
                )
        members = sorted(self.model.members)
        stats = self.redis.hashes(self.redis.prefix(m) + f"mstats:{m}" for m in members)
        for member, fields in zip(members, stats):
            for field, value in fields.items():
                # ib_balance, or ib_balance:<CUR> since issue 13.
                name = text(field)
                if name.split(":")[0] == "ib_balance" and as_int(value) < 0:
                    self.v.add(
                        "budget-instant",
                        f"member {member}: instant budget {name} "
                        f"balance {text(value)}",
                    )

    # ---- what clients saw while the storm ran --------------------------

    def check_watches(self, refunds):
        """WatchRefund streamed only states of the trail, in an order it allows."""
        for watch in self.model.watches:
            states = [STATE_NAMES.get(x, str(x)) for x in watch.states]
            trail = {e.get("to") for e in refunds.get(watch.refund_id, ({}, []))[1]}
            bad = [x for x in states if x not in trail]
            steps = list(zip(states, states[1:]))
            if bad or not all(reachable(a, b) for a, b in steps):
                self.v.add(
                    "watch",
                    f"{watch.refund_id}: WatchRefund streamed "
                    f"{' '.join(states)}; its trail has {sorted(trail)}",
                )

    def check_reads(self, reads, announced):
        """Reads in the storm saw every refund announced before them."""
        for read in reads:
            answer = read.answer
            if read.what == "refund":
                keyed, first = announced.get(read.target, (None, None))
                if (
                    answer.code == "NOT_FOUND"
                    and first is not None
                    and first.received < read.sent
                ):
                    self.v.add(
                        "read-missing",
                        f"GetRefund {read.target}: "
                        f"NOT_FOUND after it was announced to {keyed.kid}",
                    )
            elif read.what.startswith("list") and answer.ok:
                listed = {r.refund_id for r in answer.response.refunds}
                if answer.response.next_page_token:
                    continue
                field = "member" if read.what == "list_member" else "order"
                for refund_id, (keyed, first) in announced.items():
                    if (
                        getattr(keyed, field) == read.target
                        and first.received < read.sent
                        and refund_id not in listed
                    ):
                        self.v.add(
                            "read-missing",
                            f"ListRefunds {field} {read.target}: "
                            f"{refund_id} (announced to {keyed.kid}) "
                            f"missing",
                        )
            elif read.what == "order" and answer.ok:
                r = answer.response
                if r.refunded_minor > r.order.total_minor:
                    self.v.add(
                        "order-ceiling",
                        f"GetOrder {read.target}: refunded "
                        f"{r.refunded_minor} > total {r.order.total_minor}",
                    )
            elif read.what == "trust" and answer.ok:
                if answer.response.trust.instant_budget_remaining_minor < 0:
                    self.v.add(
                        "budget-instant",
                        f"GetTrust {read.target}: {short(answer.response)}",
                    )

    def check_api_view(self, refunds, touched):
        """GetRefund of every refund touched in the storm agrees with Redis."""
        pb_refunds = self.pb.refund_service
        for refund_id in sorted(touched):
            fields, events = refunds.get(refund_id, ({}, []))
            answer = self.call(
                "GetRefund",
                pb_refunds.GetRefundRequest(refund_id=refund_id, include_events=True),
            )
            if not answer.ok:
                if fields or answer.code != "NOT_FOUND":
                    self.v.add(
                        "api-view",
                        f"GetRefund {refund_id}: {answer.brief()} {answer.message}",
                    )
                continue
            refund = answer.response.refund
            state = STATE_NAMES.get(refund.state, "?")
            if (
                state != text(fields.get("state"))
                or refund.amount_minor != as_int(fields.get("amount_minor"))
                or len(answer.response.events) != len(events)
            ):
                self.v.add(
                    "api-view",
                    f"GetRefund {refund_id}: {state} "
                    f"{refund.amount_minor}, {len(answer.response.events)} "
                    f"events; Redis {text(fields.get('state'))} "
                    f"{text(fields.get('amount_minor'))}",
                )

    def check_admin(self):
        """`makegood_admin check` finds nothing; each finding is a violation."""
        result = subprocess.run(
            self.admin("check"), capture_output=True, text=True, timeout=300
        )
        if result.returncode == 0:
            return
        report = {}
        for line in result.stdout.splitlines():
            if line.startswith('{"command":"check"'):
                report = json.loads(line)
        found = report.get("violations")
        if not found:
            self.v.add(
                "admin-check",
                f"makegood_admin check exited "
                f"{result.returncode}: {result.stderr.strip()[-400:]}",
            )
        for violation in found or ():
            self.v.add("admin-check", json.dumps(violation, sort_keys=True)[:600])
