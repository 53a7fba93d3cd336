"""What the soak's clients sent and what they were told.

The checks compare makegood's state against this record, never against
makegood's own view. Client threads append to it (under one lock) while a
storm runs; the checks read it once the system is quiet.
"""

import threading
import time
from dataclasses import dataclass, field

from api import Answer


def normalized(response):
    """The answer's bytes with `replayed` cleared (a replay must be
    byte-identical to the first answer apart from that flag)."""
    copy = type(response)()
    copy.CopyFrom(response)
    copy.replayed = False
    return copy.SerializeToString(deterministic=True)


def fnv1a64(text):
    """makegood's partition hash (store/key_schema.cc): FNV-1a, 64 bits."""
    h = 14695981039346656037
    for byte in text.encode():
        h = ((h ^ byte) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


_SLOTS = 16384
_TAG_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_CRC_TABLE = []
for _i in range(256):
    _c = _i << 8
    for _ in range(8):
        _c = ((_c << 1) ^ 0x1021) & 0xFFFF if _c & 0x8000 else (_c << 1) & 0xFFFF
    _CRC_TABLE.append(_c)


def _crc16(data, crc=0):
    """CRC-16/XMODEM (the Redis Cluster slot hash), continued from `crc`."""
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[((crc >> 8) ^ byte) & 0xFF]
    return crc


def partition_tags(partitions):
    """Every partition's hash tag, as makegood names them
    (store/key_schema.h, "Partition tags"): partition N's tag is
    `p<N>.<suffix>`, the shortest, then alphabetically first, suffix over
    [0-9a-z] that puts the tag in slot floor((2N+1) * 16384 / 2P).

    Found as key_schema.cc does: CRC16 is linear, so
    crc(prefix + suffix) = crc(prefix + zero bytes) ^ crc(suffix), and a
    table of the first suffix of each length per slot value answers."""
    first = {}  # (length, slot value) -> first suffix
    suffixes = [""]
    for length in (1, 2, 3):
        suffixes = [s + c for s in suffixes for c in _TAG_ALPHABET]
        for suffix in suffixes:
            first.setdefault((length, _crc16(suffix.encode()) % _SLOTS), suffix)

    def lookup(state, length, slot):
        shifted = _crc16(bytes(length), state)
        return first.get((length, (shifted ^ slot) % _SLOTS))

    tags = []
    for n in range(partitions):
        prefix = f"p{n}."
        slot = (2 * n + 1) * _SLOTS // (2 * partitions)
        state = _crc16(prefix.encode())
        suffix = None
        for length in (1, 2, 3):
            suffix = suffix or lookup(state, length, slot)
        heads = [""]
        while suffix is None:
            heads = [h + c for h in heads for c in _TAG_ALPHABET]
            for head in heads:
                tail = lookup(_crc16(head.encode(), state), 3, slot)
                if tail:
                    suffix = head + tail
                    break
        tags.append(prefix + suffix)
    return tags


def money_fingerprint(order):
    """The order's money fields, canonically (as makegood's money_fp)."""
    lines = sorted((l.line_id, l.quantity, l.amount_minor) for l in order.lines)
    return (order.currency, order.total_minor, order.delivery_fee_minor, tuple(lines))


def unresolved(attempts):
    """The payloads (variants) the client does not know the fate of: each
    had a transient answer that no definitive answer to the same payload
    followed."""
    last = {}
    for attempt in sorted(attempts, key=lambda a: a.sent):
        if attempt.answer.transient:
            last[attempt.payload] = attempt
        elif attempt.payload in last and attempt.received > last[attempt.payload].sent:
            del last[attempt.payload]
    return sorted(last)


@dataclass
class Attempt:
    """One request sent, and its answer."""

    payload: int  # index into the request variants (0: the original)
    phase: str  # "storm", "resolve" (after quiesce) or "replay"
    sent: float
    received: float
    answer: Answer


@dataclass
class Keyed:
    """An idempotency key: a SubmitRating or GrantGoodwill request, its
    variants (index 0 the original; others reuse the key with another
    payload), and every attempt made with it."""

    kid: str
    kind: str  # "rating" | "grant"
    client: str  # x-client-id: part of the idempotency scope
    member: str
    order: str  # "" for a grant without an order
    requests: list
    attempts: list = field(default_factory=list)

    def ok_attempts(self):
        return [a for a in self.attempts if a.answer.ok]

    def refund(self):
        """The refund the first OK answer announced, if any."""
        for attempt in self.ok_attempts():
            response = attempt.answer.response
            if self.kind == "grant":
                return response.refund
            if response.decision.HasField("refund"):
                return response.decision.refund
            return None
        return None


@dataclass
class OrderRecord:
    """An order: its versions (index 0 the original) and every
    RecordDelivery sent for it."""

    order_id: str
    member: str
    versions: list
    attempts: list = field(default_factory=list)


@dataclass
class Mark:
    """A MarkRefundAbusive call."""

    kid: str
    refund_id: str
    reverse: bool
    attempt: Attempt


@dataclass
class Watch:
    """A WatchRefund stream: the states it delivered."""

    refund_id: str
    states: list
    answer: Answer


@dataclass
class Read:
    """A read while the storm ran (GetRefund, ListRefunds, GetOrder,
    GetTrust) and its answer."""

    what: str  # refund | list_member | list_order | order | trust
    target: str  # the refund, member or order id
    sent: float
    received: float
    answer: Answer


class Model:
    """Thread-safe record of requests and answers."""

    def __init__(self):
        self.lock = threading.Lock()
        self.keys = {}  # kid -> Keyed
        self.orders = {}  # order id -> OrderRecord
        self.members = {}  # member id -> list of Member versions sent
        self.marks = []
        self.watches = []
        self.touched = set()  # refund ids read, marked, replayed since a check

    def add_keyed(self, keyed):
        self.keys[keyed.kid] = keyed

    def add_order(self, record):
        self.orders[record.order_id] = record

    def record(self, target, attempt):
        """Appends an attempt to a Keyed or an OrderRecord."""
        with self.lock:
            target.attempts.append(attempt)
            if isinstance(target, Keyed):
                refund = target.refund()
                if refund is not None:
                    self.touched.add(refund.refund_id)

    def add_mark(self, mark):
        with self.lock:
            self.marks.append(mark)
            self.touched.add(mark.refund_id)

    def add_watch(self, watch):
        with self.lock:
            self.watches.append(watch)
            self.touched.add(watch.refund_id)

    def refund_of(self, kids):
        """The first of `kids` whose answer announced a refund, and that
        refund's id; (None, None) if none did (yet)."""
        with self.lock:
            for kid in kids:
                refund = self.keys[kid].refund()
                if refund is not None:
                    return kid, refund.refund_id
            return None, None

    def take_touched(self):
        with self.lock:
            touched, self.touched = self.touched, set()
            return touched


def timed(call):
    """Runs `call()` (returning an Answer); the (sent, received, answer)."""
    sent = time.monotonic()
    answer = call()
    return sent, time.monotonic(), answer
