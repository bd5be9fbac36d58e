"""moto server, with two fixes: constant-time Kinesis sequence-number lookups, and SDK retries answered once.

    python -m churn_tools.local.moto_server -H 127.0.0.1 -p 5000   # the same arguments as `python -m moto.server`

moto 5.2.5 finds a shard's last sequence number with `list(self.records.keys())[-1]`, a copy of every key, and
does so for each record put. A PutRecords call therefore costs time in proportion to the records already in the
shard: 500 records took 84 ms into a 4-shard stream holding 5,000 and 525 ms once it held 60,000, and in
cProfile 81% of a put's time was that copy. At 1,000 records/s the local Kinesis fell behind within a minute,
with a core busy, and the streaming job's latency measured moto rather than the job. The records are an
insertion-ordered dict keyed by increasing sequence numbers, so the first and last keys are the minimum and
maximum; the replacements below return exactly what the originals return.

Retries: the AWS SDKs send one amz-sdk-invocation-id for every attempt of a call. The Terraform provider
(aws-sdk-go-v2 on smithy-go) retries a call whose response it received but could not read: smithy-go closes the
request body as soon as the response headers arrive (transport/http/client.go), net/http's writer then checks the
body for extra bytes, gets io.EOF from the closed body's WriteTo (transport/http/internal/io/safe.go) and closes
the connection under the response (net/http transfer.go writeBody) -- "decomposing response: read tcp ...: use of
closed network connection". On loopback, with a fast server and starved cores, that race is common; moto has then
carried out the call, and a retried create fails with AlreadyExists (hashicorp/terraform-provider-aws#18468).
`ReplayRetries` answers a retry of a call moto already answered with that answer, as an idempotent service would.
Everything else is moto as released.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from moto.kinesis.models import Shard


def _min_sequence_number(shard: Shard) -> int:
    return next(iter(shard.records), 0)


def _max_sequence_number(shard: Shard) -> int:
    return next(reversed(shard.records), 0)


def patch_kinesis() -> None:
    Shard.get_min_sequence_number = _min_sequence_number
    Shard.get_max_sequence_number = _max_sequence_number


class ReplayRetries:
    """WSGI middleware: a retry (amz-sdk-request "attempt=N", N > 1) of a call moto already carried out gets
    that answer again instead of a second execution. Kept: successful (2xx) answers of changing calls (not
    GET/HEAD, safe to repeat), up to MAX_BODY bytes, the most recent `capacity` of them (at most 32 MiB). A retry
    after an error answer runs again, as before: the SDK retries some errors because a later attempt may pass."""

    MAX_BODY = 64 << 10

    def __init__(self, app, capacity: int = 512):
        self.app = app
        self.capacity = capacity
        self.answers: OrderedDict[str, tuple[str, list, bytes]] = OrderedDict()
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        invocation = environ.get("HTTP_AMZ_SDK_INVOCATION_ID")
        if not invocation or environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return self.app(environ, start_response)
        if _attempt(environ.get("HTTP_AMZ_SDK_REQUEST", "")) > 1:
            with self.lock:
                answer = self.answers.get(invocation)
            if answer is not None:
                status, headers, body = answer
                start_response(status, headers)
                return [body]
        captured: dict = {}

        def capture(status, headers, exc_info=None):
            captured.update(status=status, headers=list(headers))
            return start_response(status, headers, exc_info)

        result = self.app(environ, capture)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        if captured.get("status", "").startswith("2") and len(body) <= self.MAX_BODY:
            with self.lock:
                self.answers[invocation] = (captured["status"], captured["headers"], body)
                while len(self.answers) > self.capacity:
                    self.answers.popitem(last=False)
        return [body]


def _attempt(header: str) -> int:
    """The attempt number of an amz-sdk-request header ("attempt=2; max=25"); 1 when absent or unreadable."""
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == "attempt" and value.isdigit():
            return int(value)
    return 1


def replay_retries() -> None:
    """Serve moto's application wrapped in ReplayRetries (moto.server.main hands it to werkzeug's run_simple)."""
    import moto.server

    run_simple = moto.server.run_simple

    def run_wrapped(host, port, app, **options):
        return run_simple(host, port, ReplayRetries(app), **options)

    moto.server.run_simple = run_wrapped


def main() -> None:
    from moto.server import main as moto_main

    patch_kinesis()
    replay_retries()
    moto_main()


if __name__ == "__main__":
    main()
