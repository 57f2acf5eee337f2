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

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

GRABS = Counter("hongbao_grabs_total", "grab requests answered, by outcome", ["outcome"])
GRAB_SECONDS = Histogram("hongbao_grab_seconds", "time to answer a grab (in the service)",
                         buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                  0.25, 0.5, 1.0, 2.5))
_BY_STATUS = {409: "sold_out", 410: "expired"}
_COUNTERS = {name: GRABS.labels(name) for name in ("granted", "repeat", "sold_out", "expired", "rejected", "error")}
_HEADERS = [(b"content-type", CONTENT_TYPE_LATEST.encode())]


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
            await send({"type": "http.response.start", "status": 200,
                        "headers": _HEADERS + [(b"content-length", str(len(body)).encode())]})
            return await send({"type": "http.response.body", "body": body})
        if not path.endswith("/grab"):
            return await app(scope, receive, send)
        t0, answer = time.perf_counter(), [500]

        async def observe(message) -> None:
            if message["type"] == "http.response.start":
                answer[0] = message["status"]
            elif message["type"] == "http.response.body":
                GRAB_SECONDS.observe(time.perf_counter() - t0)
                _COUNTERS[outcome(answer[0], message.get("body", b""))].inc()
            await send(message)
        await app(scope, receive, observe)
    return instrumented
