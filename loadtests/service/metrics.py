"""Prometheus metrics of the reference service at GET /metrics (prometheus-client's text format):
grabs by outcome (``hongbao_grabs_total{outcome}``), grab latency (``hongbao_grab_seconds``
histogram) and the client's default process metrics, among them ``process_cpu_seconds_total``,
which ``hongbao storm/capacity --metrics URL`` read for the service's CPU per grab.

``instrument(app)`` wraps the ASGI app: the grab handler itself is untouched; the outcome is read
from the status (and the ``repeat`` flag) of the answer as it is sent. With uvicorn ``--workers N``
each worker process keeps its own figures and /metrics answers from whichever worker serves it.
"""

from __future__ import annotations

import time
from bisect import bisect_left

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

OUTCOMES = ("granted", "repeat", "sold_out", "expired", "rejected", "error")
BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_BY_STATUS = {409: "sold_out", 410: "expired"}
_HEADERS = [(b"content-type", CONTENT_TYPE_LATEST.encode())]


class GrabFigures:
    """Plain counters, updated on the event loop's one thread and turned into Prometheus families
    only when /metrics is read: a grab pays two additions and a bisect, not the client's locks."""

    def __init__(self) -> None:
        self.outcomes = dict.fromkeys(OUTCOMES, 0)
        self.buckets = [0] * (len(BUCKETS_S) + 1)  # the last one is +Inf
        self.sum_s = 0.0

    def record(self, outcome: str, seconds: float) -> None:
        self.outcomes[outcome] += 1
        self.buckets[bisect_left(BUCKETS_S, seconds)] += 1
        self.sum_s += seconds

    def collect(self):
        grabs = CounterMetricFamily("hongbao_grabs", "grab requests answered, by outcome", labels=["outcome"])
        for name, n in self.outcomes.items():
            grabs.add_metric([name], n)
        cumulative, running = [], 0
        for le, n in zip([*map(str, BUCKETS_S), "+Inf"], self.buckets, strict=True):
            running += n
            cumulative.append((le, running))
        yield grabs
        yield HistogramMetricFamily(
            "hongbao_grab_seconds", "time to answer a grab (in the service)", buckets=cumulative, sum_value=self.sum_s
        )


FIGURES = GrabFigures()
REGISTRY.register(FIGURES)


def outcome(status: int, body: bytes) -> str:
    """A grab answer's outcome label."""
    if status == 200:
        return "repeat" if b'"repeat":true' in body else "granted"
    return _BY_STATUS.get(status) or ("error" if status >= 500 else "rejected")


def instrument(app):
    """``app`` with GET /metrics and grab counting (every other request passes straight through)."""

    async def instrumented(scope, receive, send) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        path = scope["path"]
        if path == "/metrics" and scope["method"] == "GET":
            body = generate_latest()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": _HEADERS + [(b"content-length", str(len(body)).encode())],
                }
            )
            return await send({"type": "http.response.body", "body": body})
        if not path.endswith("/grab"):
            return await app(scope, receive, send)
        t0, answer = time.perf_counter(), [500]

        async def observe(message) -> None:
            if message["type"] == "http.response.start":
                answer[0] = message["status"]
            elif message["type"] == "http.response.body":
                FIGURES.record(outcome(answer[0], message.get("body", b"")), time.perf_counter() - t0)
            await send(message)

        await app(scope, receive, observe)

    return instrumented
