"""The soak's clients: they carry out a storm's actions through the public
gRPC API and write every request and answer into the model.

A client retries a transient answer (UNAVAILABLE, ABORTED, ...) a few times
with the same key and payload, on alternating API processes, as a careful
app would; what it still does not know is settled after the storm
(`Resolver`).
"""

import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

from cluster import HarnessError
from model import Attempt, Mark, Read, Watch, unresolved

RETRIES = 2  # transient answers retried this often within an action
BACKOFF = 0.3  # seconds between those retries
RESOLVE_TRIES = 20  # after a storm, the system restored: tries per request
RESOLVE_BACKOFF = 0.5


class Caller:
    """Sends requests for one client and records them (shared by the storm
    clients and the after-storm resolver)."""

    def __init__(self, client, cluster, api, model):
        self.client = client
        self.cluster = cluster
        self.api = api
        self.model = model

    def channel(self, index):
        apis = self.cluster.apis()
        return apis[index % len(apis)].channel()

    def send(
        self,
        keyed,
        payload,
        copies=1,
        api=0,
        phase="storm",
        tries=RETRIES + 1,
        backoff=BACKOFF,
    ):
        """SubmitRating / GrantGoodwill with the key's variant `payload`,
        `copies` times at once; retried while transient. The last answers."""
        method = "SubmitRating" if keyed.kind == "rating" else "GrantGoodwill"
        request = keyed.requests[payload]
        answers = []
        for attempt in range(tries):
            started = [
                (
                    time.monotonic(),
                    self.api.start(
                        self.channel(api + attempt + i), method, request, keyed.client
                    ),
                )
                for i in range(copies)
            ]
            answers = []
            for sent, future in started:
                answer = self.api.finish(future)
                self.model.record(
                    keyed, Attempt(payload, phase, sent, time.monotonic(), answer)
                )
                answers.append(answer)
            if not any(a.transient for a in answers):
                break
            copies = 1
            time.sleep(backoff)
        return answers

    def unary(self, method, request, api=0, tries=RETRIES + 1, backoff=BACKOFF):
        """Any other unary call, retried while transient: (sent, received,
        answer) of each attempt."""
        attempts = []
        for attempt in range(tries):
            sent = time.monotonic()
            answer = self.api.call(
                self.channel(api + attempt), method, request, self.client
            )
            attempts.append((sent, time.monotonic(), answer))
            if not answer.transient:
                break
            time.sleep(backoff)
        return attempts

    def record_order(self, record, version, api=0, phase="storm", **retry):
        """RecordDelivery of a version of an order; the last answer."""
        request = self.api.pb.order_service.RecordDeliveryRequest(
            order=record.versions[version]
        )
        for sent, received, answer in self.unary(
            "RecordDelivery", request, api, **retry
        ):
            self.model.record(record, Attempt(version, phase, sent, received, answer))
        return answer

    def mark(self, kid, refund_id, reverse, api=0, phase="storm", **retry):
        """MarkRefundAbusive; the reason says whether it asked to reverse."""
        request = self.api.pb.refund_service.MarkRefundAbusiveRequest(
            refund_id=refund_id,
            operator_id=f"op-{self.client}",
            reason="soak-reverse" if reverse else "soak-keep",
            reverse_refund=reverse,
        )
        for sent, received, answer in self.unary(
            "MarkRefundAbusive", request, api, **retry
        ):
            self.model.add_mark(
                Mark(kid, refund_id, reverse, Attempt(0, phase, sent, received, answer))
            )


class Client(Caller):
    """One client thread of a storm: runs its actions in order, paced by
    their delays, and stops at `deadline` (monotonic seconds)."""

    def __init__(
        self, client, cluster, api, model, watchers, reads, deadline, watch_seconds
    ):
        super().__init__(client, cluster, api, model)
        self.watchers = watchers
        self.reads = reads
        self.deadline = deadline
        self.watch_seconds = watch_seconds
        self.watches = []  # futures of the WatchRefund streams started
        self.done = 0
        self.error = None  # a traceback, if the soak itself failed

    def run(self, actions):
        try:
            for action in actions:
                if time.monotonic() + action.delay >= self.deadline:
                    return
                time.sleep(action.delay)
                getattr(self, f"_{action.kind}")(action.api, **action.args)
                self.done += 1
        except Exception:  # a bug of the soak: reported by Traffic.finish
            self.error = traceback.format_exc()

    def _send(self, api, kid, payload, copies):
        """A rating or grant, `copies` times at once."""
        self.send(self.model.keys[kid], payload, copies, api)

    def _together(self, api, kids):
        """A rating and a grant of the same order, sent at once."""
        threads = [
            threading.Thread(
                target=self.send, args=(self.model.keys[kid], 0, 1, api + i)
            )
            for i, kid in enumerate(kids)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _mark(self, api, kids, reverse):
        """Marks the first refund announced to one of `kids`."""
        kid, refund_id = self.model.refund_of(kids)
        if refund_id is not None:
            self.mark(kid, refund_id, reverse, api)

    def _rate_then_mark(self, api, kids, reverse):
        """Rates, then marks the refund at once (it is still settling)."""
        self.send(self.model.keys[kids[0]], 0, 1, api)
        self._mark(api + 1, kids, reverse)

    def _record(self, api, order, version):
        """Records an order again (same or other money)."""
        self.record_order(self.model.orders[order], version, api)

    def _grant_then_shrink(self, api, kid, order, version):
        """Goodwill on an order, then the order recorded with less money."""
        self.send(self.model.keys[kid], 0, 1, api)
        self.record_order(self.model.orders[order], version, api + 1)

    def _watch(self, api, kids):
        """Starts a WatchRefund stream (on the watch pool)."""
        refund_id = self.model.refund_of(kids)[1]
        if refund_id is None:
            return
        channel = self.channel(api)

        def watch():
            states, answer = self.api.watch(
                channel, refund_id, self.client, self.watch_seconds
            )
            self.model.add_watch(Watch(refund_id, states, answer))

        self.watches.append(self.watchers.submit(watch))

    def _read(self, api, what, kids, member, order):
        """One read, kept for check_reads."""
        pb = self.api.pb
        if what == "refund":
            target = self.model.refund_of(kids)[1]
            if target is None:
                return
            method = "GetRefund"
            request = pb.refund_service.GetRefundRequest(refund_id=target)
        elif what == "list_member":
            target, method = member, "ListRefunds"
            request = pb.refund_service.ListRefundsRequest(
                member_id=member, page_size=100
            )
        elif what == "list_order":
            target, method = order, "ListRefunds"
            request = pb.refund_service.ListRefundsRequest(
                order_id=order, page_size=100
            )
        elif what == "order":
            target, method = order, "GetOrder"
            request = pb.order_service.GetOrderRequest(order_id=order)
        else:
            target, method = member, "GetTrust"
            request = pb.member_service.GetTrustRequest(member_id=member)
        sent = time.monotonic()
        answer = self.api.call(self.channel(api), method, request, self.client)
        self.reads.append(Read(what, target, sent, time.monotonic(), answer))

    def _upsert(self, api, member):
        """Changes a member's tier."""
        request = self.api.pb.member_service.UpsertMemberRequest(member=member)
        self.unary("UpsertMember", request, api)


class Traffic:
    """A storm's client threads (and their WatchRefund streams)."""

    def __init__(self, storm, cluster, api, model, config, reads):
        self.deadline = time.monotonic() + storm.seconds + config.storm_grace
        self.watchers = ThreadPoolExecutor(max_workers=4)
        self.clients = [
            Client(
                name,
                cluster,
                api,
                model,
                self.watchers,
                reads,
                self.deadline,
                config.watch_seconds,
            )
            for name in storm.actions
        ]
        self.threads = [
            threading.Thread(
                target=c.run,
                args=(storm.actions[c.client],),
                name=c.client,
                daemon=True,
            )
            for c in self.clients
        ]

    def start(self):
        for thread in self.threads:
            thread.start()

    def finish(self):
        """Waits for the clients (bounded by the deadline: every call has a
        timeout) and the watches; the number of actions carried out."""
        for thread in self.threads:
            thread.join(max(0.0, self.deadline - time.monotonic()) + 10)
        self.watchers.shutdown(wait=True)
        for client in self.clients:
            for watch in client.watches:
                if watch.exception() is not None:
                    raise HarnessError(f"a watch failed: {watch.exception()!r}")
            if client.error:
                raise HarnessError(f"client {client.client} failed:\n{client.error}")
        return sum(c.done for c in self.clients)


class Resolver:
    """After a storm, with every fault ended: settles what the clients do
    not know (requests whose last answer was transient are sent again, as
    the app would) and replays a sample of keys."""

    def __init__(self, cluster, api, model):
        self.callers = {}
        self.cluster = cluster
        self.api = api
        self.model = model

    def caller(self, client):
        if client not in self.callers:
            self.callers[client] = Caller(client, self.cluster, self.api, self.model)
        return self.callers[client]

    def resolve(self):
        """Sends every unresolved request again until it is answered; the
        number of requests that stayed unanswered."""
        retry = {"tries": RESOLVE_TRIES, "backoff": RESOLVE_BACKOFF}
        unanswered = 0
        for keyed in list(self.model.keys.values()):
            for payload in unresolved(keyed.attempts):
                answers = self.caller(keyed.client).send(
                    keyed, payload, phase="resolve", **retry
                )
                unanswered += any(a.transient for a in answers)
        for record in self.model.orders.values():
            for payload in unresolved(record.attempts):
                answer = self.caller("soak-resolver").record_order(
                    record, payload, phase="resolve", **retry
                )
                unanswered += answer.transient
        pending = {}
        for mark in self.model.marks:
            pending[(mark.refund_id, mark.reverse)] = mark
            if not mark.attempt.answer.transient:
                pending.pop((mark.refund_id, mark.reverse))
        for mark in pending.values():
            self.caller("soak-resolver").mark(
                mark.kid, mark.refund_id, mark.reverse, phase="resolve", **retry
            )
        return unanswered

    def replay(self, kids):
        """Sends the original request of each key again."""
        for kid in kids:
            keyed = self.model.keys[kid]
            self.caller(keyed.client).send(
                keyed, 0, phase="replay", tries=RESOLVE_TRIES, backoff=RESOLVE_BACKOFF
            )
