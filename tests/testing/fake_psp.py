#!/usr/bin/env python3
"""A fake Stripe-compatible refunds API over HTTPS, for integration tests.

Usage:
  fake_psp.py --port 0 --cert server.pem --key server.key --api-key sk_test
Prints "PORT <n>" as its first stdout line once it accepts connections.

Stripe-like endpoints (require "Authorization: Bearer <api-key>", else 401):
  POST /v1/refunds  form fields payment_intent, amount, currency,
                    metadata[...]. Idempotent by the Idempotency-Key header:
                    a repeat with the same parameters replays the stored
                    status and body and creates nothing; a repeat with other
                    parameters is 400 idempotency_error; a repeat while the
                    first is still executing is 409 (nothing stored).
  GET  /v1/refunds  ?payment_intent=&limit=(1..100, default 10)
                    &starting_after=<id>; newest first, with has_more.

Admin endpoints (JSON, no auth):
  POST /_admin/faults   {"mode": M, "count": N, "delay_ms": D} applies M to
                        the next N authenticated POST /v1/refunds:
      none                 normal behaviour (clears faults when count is 0).
      http_500             answer 500 api_error at once; nothing stored (an
                           outage in front of the API).
      slow                 sleep D ms (key marked in progress), then behave
                           normally.
      commit_then_timeout  behave normally (the refund is stored), then sleep
                           D ms before answering, so the client times out.
      decline              a new refund is stored with status "failed",
                           failure_reason "expired_or_canceled_card", and
                           the answer is 402 {"error": {"type": "card_error",
                           "code": "card_declined", "decline_code":
                           "expired_or_canceled_card"}}; no money moves.
      pending              a new refund is stored with status "pending";
                           no money moves (yet).
                        decline/pending only shape a new refund: a replay
                        still answers what was stored.
  GET  /_admin/payouts  {refund_id: times money moved}; a refund id is
                        metadata[makegood_refund_id] (else the idempotency
                        key). Must never exceed 1.
  GET  /_admin/refunds  every stored refund object, oldest first.
  GET  /_admin/requests {"post_refunds": n, "in_progress": k,
                        "peak_concurrent": p}: POST /v1/refunds received,
                        holding their idempotency key now, and the most
                        ever answered at once.

Python 3 standard library only.
"""

import argparse
import json
import secrets
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    """Everything the fake remembers; all access under `lock`."""

    def __init__(self, api_key):
        self.api_key = api_key
        self.lock = threading.Lock()
        # Idempotency-Key -> {"params", "status", "body"}.
        self.idempotency = {}
        self.in_progress = set()
        self.refunds = []  # Refund objects, oldest first.
        self.payouts = {}  # refund id -> money movements.
        self.fault = {"mode": "none", "count": 0, "delay_ms": 0}
        self.post_refunds = 0
        self.active_posts = 0  # POST /v1/refunds being answered now.
        self.peak_active_posts = 0

    def take_fault(self):
        """The fault for this POST (consuming one), or "none"."""
        with self.lock:
            if self.fault["count"] <= 0:
                return "none", 0
            self.fault["count"] -= 1
            return self.fault["mode"], self.fault["delay_ms"]


def stripe_error(status, type_, message, code=None, **extra):
    error = {"type": type_, "message": message}
    if code is not None:
        error["code"] = code
    error.update(extra)
    return status, {"error": error}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakePSP/1.0"

    # --- plumbing ---------------------------------------------------------

    def log_message(self, format, *args):  # noqa: A002 (stdlib signature)
        pass  # Quiet: the test reads stdout for the PORT line only.

    @property
    def state(self):
        return self.server.state

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send_json(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def authorized(self):
        return (self.headers.get("Authorization") ==
                "Bearer " + self.state.api_key)

    def unauthorized(self):
        self.send_json(*stripe_error(401, "invalid_request_error",
                                     "Invalid API Key provided."))

    # --- routing ----------------------------------------------------------

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if url.path == "/_admin/payouts":
            with self.state.lock:
                self.send_json(200, dict(self.state.payouts))
        elif url.path == "/_admin/refunds":
            with self.state.lock:
                self.send_json(200, list(self.state.refunds))
        elif url.path == "/_admin/requests":
            with self.state.lock:
                self.send_json(200, {
                    "post_refunds": self.state.post_refunds,
                    "in_progress": len(self.state.in_progress),
                    "peak_concurrent": self.state.peak_active_posts})
        elif url.path == "/v1/refunds":
            if not self.authorized():
                self.unauthorized()
            else:
                self.send_json(*self.list_refunds(query))
        else:
            self.send_json(*stripe_error(404, "invalid_request_error",
                                         "Unrecognized request URL."))

    def do_POST(self):
        body = self.read_body()
        path = urllib.parse.urlsplit(self.path).path
        if path == "/_admin/faults":
            self.send_json(*self.set_fault(body))
        elif path == "/v1/refunds":
            with self.state.lock:
                self.state.post_refunds += 1
                self.state.active_posts += 1
                self.state.peak_active_posts = max(
                    self.state.peak_active_posts, self.state.active_posts)
            try:
                if not self.authorized():
                    self.unauthorized()
                else:
                    self.create_refund(body)
            finally:
                with self.state.lock:
                    self.state.active_posts -= 1
        else:
            self.send_json(*stripe_error(404, "invalid_request_error",
                                         "Unrecognized request URL."))

    # --- admin ------------------------------------------------------------

    def set_fault(self, body):
        try:
            fault = json.loads(body or b"{}")
            mode = fault.get("mode", "none")
            count = int(fault.get("count", 1))
            delay_ms = int(fault.get("delay_ms", 0))
        except (ValueError, AttributeError) as e:
            return 400, {"error": str(e)}
        if mode not in ("none", "decline", "http_500", "commit_then_timeout",
                        "slow", "pending"):
            return 400, {"error": "unknown mode " + str(mode)}
        with self.state.lock:
            self.state.fault = {"mode": mode, "count": count,
                                "delay_ms": delay_ms}
        return 200, {"ok": True}

    # --- Stripe API -------------------------------------------------------

    def list_refunds(self, query):
        payment_intent = query.get("payment_intent", [None])[0]
        try:
            limit = int(query.get("limit", ["10"])[0])
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            return stripe_error(400, "invalid_request_error",
                                "Invalid limit.", "parameter_invalid_integer")
        starting_after = query.get("starting_after", [None])[0]
        with self.state.lock:
            refunds = [r for r in reversed(self.state.refunds)
                       if payment_intent is None
                       or r["payment_intent"] == payment_intent]
        if starting_after is not None:
            ids = [r["id"] for r in refunds]
            if starting_after not in ids:
                return stripe_error(400, "invalid_request_error",
                                    "No such refund.", "resource_missing")
            refunds = refunds[ids.index(starting_after) + 1:]
        return 200, {"object": "list", "url": "/v1/refunds",
                     "data": refunds[:limit],
                     "has_more": len(refunds) > limit}

    def create_refund(self, body):
        mode, delay_ms = self.state.take_fault()
        if mode == "http_500":
            self.send_json(*stripe_error(500, "api_error",
                                         "Something went wrong."))
            return
        params = urllib.parse.parse_qs(body.decode(), keep_blank_values=True)
        params = {k: v[-1] for k, v in params.items()}
        key = self.headers.get("Idempotency-Key") or secrets.token_hex(12)

        with self.state.lock:
            if key in self.state.in_progress:
                busy = True
            else:
                busy = False
                self.state.in_progress.add(key)
        if busy:
            self.send_json(*stripe_error(
                409, "idempotency_error",
                "There is currently another in-progress request using this "
                "Idempotency-Key.", "idempotency_key_in_use"))
            return
        try:
            if mode == "slow":
                time.sleep(delay_ms / 1000.0)
            status, payload = self.execute(key, params, mode)
        finally:
            with self.state.lock:
                self.state.in_progress.discard(key)
        if mode == "commit_then_timeout":
            time.sleep(delay_ms / 1000.0)
        try:
            self.send_json(status, payload)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True  # The client gave up; stored anyway.

    def execute(self, key, params, mode):
        """Creates the refund for `key`, or replays its stored answer."""
        with self.state.lock:
            stored = self.state.idempotency.get(key)
            if stored is not None:
                if stored["params"] != params:
                    return stripe_error(
                        400, "idempotency_error",
                        "Keys for idempotent requests can only be used with "
                        "the same parameters they were first used with.")
                return stored["status"], stored["body"]
            status, body = self.new_refund(key, params, mode)
            # Validation failures are not stored, like Stripe.
            if status != 400:
                self.state.idempotency[key] = {"params": params,
                                               "status": status,
                                               "body": body}
            return status, body

    def new_refund(self, key, params, mode):
        """Validates and creates a refund; caller holds the lock."""
        for field in ("payment_intent", "amount", "currency"):
            if not params.get(field):
                return stripe_error(400, "invalid_request_error",
                                    "Missing required param: " + field + ".",
                                    "parameter_missing", param=field)
        try:
            amount = int(params["amount"])
        except ValueError:
            amount = 0
        if amount <= 0:
            return stripe_error(400, "invalid_request_error",
                                "Invalid amount.", "parameter_invalid_integer",
                                param="amount")
        metadata = {k[len("metadata["):-1]: v for k, v in params.items()
                    if k.startswith("metadata[") and k.endswith("]")}
        refund = {
            "id": "re_" + secrets.token_hex(12),
            "object": "refund",
            "amount": amount,
            "currency": params["currency"],
            "payment_intent": params["payment_intent"],
            "metadata": metadata,
            "created": int(time.time()),
            "status": "succeeded",
            "failure_reason": None,
        }
        if mode == "decline":
            refund["status"] = "failed"
            refund["failure_reason"] = "expired_or_canceled_card"
        elif mode == "pending":
            refund["status"] = "pending"
        self.state.refunds.append(refund)
        if refund["status"] == "succeeded":
            refund_id = metadata.get("makegood_refund_id", key)
            self.state.payouts[refund_id] = (
                self.state.payouts.get(refund_id, 0) + 1)
        if mode == "decline":
            return stripe_error(402, "card_error", "The refund was declined.",
                                "card_declined",
                                decline_code="expired_or_canceled_card")
        return 200, refund


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients that reject our certificate or hang up mid-request are part
        # of the tests; anything else is worth a line on stderr.
        error = sys.exc_info()[1]
        if isinstance(error, OSError):  # SSLError, ConnectionError, timeout.
            return
        super().handle_error(request, client_address)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--api-key", required=True)
    args = parser.parse_args()

    server = Server((args.host, args.port), Handler)
    server.state = State(args.api_key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    # The handshake happens in the handler thread on first read, so a client
    # that stalls or fails it never blocks accept().
    server.socket = context.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)
    print("PORT", server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
