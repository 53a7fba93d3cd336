"""makegood's public gRPC API as the soak's clients call it.

The Python stubs are generated at run time from proto/ (protoc with
grpc_python_plugin) into the run's directory; `load_stubs` imports them.
Every call returns an `Answer`, never raises: OK with the response, or the
gRPC code with its google.rpc.ErrorInfo reason.
"""

import importlib
import os
import subprocess
import sys
from dataclasses import dataclass

import grpc

# Codes after which the request may or may not have taken effect, or may
# succeed when sent again: the client retries them with the same key.
TRANSIENT = frozenset(
    {
        "UNAVAILABLE",
        "DEADLINE_EXCEEDED",
        "ABORTED",
        "CANCELLED",
        "INTERNAL",
        "UNKNOWN",
        "RESOURCE_EXHAUSTED",
    }
)

_PROTOS = [
    "goodwill_service",
    "member",
    "member_service",
    "order",
    "order_service",
    "policy",
    "rating",
    "rating_service",
    "refund",
    "refund_service",
]


class Pb:
    """The generated modules, by short name (pb.rating_service, ...)."""


def load_stubs(source_dir, out_dir):
    """Generates the Python stubs of proto/ into `out_dir` and imports them."""
    proto_dir = os.path.join(source_dir, "proto")
    files = [os.path.join(proto_dir, "makegood", "v1", f"{p}.proto") for p in _PROTOS]
    files += [
        os.path.join(proto_dir, "google", "rpc", f)
        for f in ("status.proto", "error_details.proto")
    ]
    os.makedirs(out_dir, exist_ok=True)
    subprocess.run(
        [
            "protoc",
            f"--python_out={out_dir}",
            f"--grpc_out={out_dir}",
            "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
            f"-I{proto_dir}",
            *files,
        ],
        check=True,
    )
    sys.path.insert(0, out_dir)
    pb = Pb()
    for name in _PROTOS:
        setattr(pb, name, importlib.import_module(f"makegood.v1.{name}_pb2"))
        grpc_module = importlib.import_module(f"makegood.v1.{name}_pb2_grpc")
        setattr(pb, f"{name}_grpc", grpc_module)
    pb.status = importlib.import_module("google.rpc.status_pb2")
    pb.error_details = importlib.import_module("google.rpc.error_details_pb2")
    return pb


@dataclass
class Answer:
    """What one call was told."""

    code: str  # "OK" or the gRPC status code's name
    reason: str = ""  # google.rpc.ErrorInfo reason, if any
    message: str = ""
    response: object = None

    @property
    def ok(self):
        return self.code == "OK"

    @property
    def transient(self):
        return self.code in TRANSIENT

    def brief(self):
        return self.code + (f"/{self.reason}" if self.reason else "")


# Method name -> (service stub attribute, module holding the stub class).
_METHODS = {
    "UpsertMember": ("member_service", "MemberService"),
    "GetTrust": ("member_service", "MemberService"),
    "RecordDelivery": ("order_service", "OrderService"),
    "GetOrder": ("order_service", "OrderService"),
    "SubmitRating": ("rating_service", "RatingService"),
    "GrantGoodwill": ("goodwill_service", "GoodwillService"),
    "GetRefund": ("refund_service", "RefundService"),
    "ListRefunds": ("refund_service", "RefundService"),
    "WatchRefund": ("refund_service", "RefundService"),
    "MarkRefundAbusive": ("refund_service", "RefundService"),
}


class Api:
    """Calls makegood as one named client (x-client-id) over a channel."""

    def __init__(self, pb, timeout=3.0):
        self.pb = pb
        self.timeout = timeout
        self._stubs = {}

    def _method(self, channel, method):
        key = (id(channel), method)
        cached = self._stubs.get(key)
        if cached is None or cached[0] is not channel:
            module, service = _METHODS[method]
            stub = getattr(getattr(self.pb, f"{module}_grpc"), f"{service}Stub")
            cached = (channel, getattr(stub(channel), method))
            self._stubs[key] = cached
        return cached[1]

    def call(self, channel, method, request, client):
        """A unary call; the answer."""
        return self.finish(self.start(channel, method, request, client))

    def start(self, channel, method, request, client):
        """Starts a unary call without waiting (concurrent duplicates)."""
        return self._method(channel, method).future(
            request, timeout=self.timeout, metadata=(("x-client-id", client),)
        )

    def finish(self, future):
        """The answer of a started call."""
        try:
            return Answer("OK", response=future.result())
        except grpc.RpcError as error:
            return self.error_answer(error)

    def watch(self, channel, refund_id, client, timeout):
        """WatchRefund: the states streamed until the stream ends or
        `timeout` passes, and the answer that ended it."""
        request = self.pb.refund_service.WatchRefundRequest(refund_id=refund_id)
        states = []
        try:
            for message in self._method(channel, "WatchRefund")(
                request, timeout=timeout, metadata=(("x-client-id", client),)
            ):
                states.append(message.refund.state)
            return states, Answer("OK")
        except grpc.RpcError as error:
            return states, self.error_answer(error)

    def error_answer(self, error):
        reason = ""
        for key, value in error.trailing_metadata() or ():
            if key == "grpc-status-details-bin":
                status = self.pb.status.Status.FromString(value)
                for detail in status.details:
                    info = self.pb.error_details.ErrorInfo()
                    if detail.Unpack(info):
                        reason = info.reason
        return Answer(error.code().name, reason, error.details() or "")
