"""The grab service as a raw ASGI app: a dict router, orjson bodies, no framework on the hot path.

``create_app(store)`` wraps any store of loadtests.service.stores; ``app_from_env()`` is the
uvicorn factory used by ``hongbao serve`` (it reads HONGBAO_STORE and HONGBAO_SEED, so each worker
process builds its own store connection).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from urllib.parse import parse_qs

import orjson

from hongbao.loadtests.service import validation as v
from hongbao.loadtests.service.errors import ApiError
from hongbao.loadtests.service.openapi import spec as openapi_spec
from hongbao.loadtests.service.stores import Store, open_store

log = logging.getLogger("hongbao.serve")
_JSON = b"application/json"


class GrabService:
    """ASGI callable: routes, reads bounded bodies, maps ApiError to 4xx/503 JSON answers."""

    def __init__(self, store: Store):
        self.store = store
        self._openapi = orjson.dumps(openapi_spec())

    async def __call__(self, scope, receive, send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.store.open()
                except Exception as exc:  # noqa: BLE001 - reported to the server, which exits
                    await send(
                        {
                            "type": "lifespan.startup.failed",
                            "message": f"cannot open the {self.store.kind} store: {exc}",
                        }
                    )
                    return
                _freeze_startup_heap()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.store.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope, receive, send) -> None:
        extra: list = []
        try:
            status, body = await self._route(scope, receive)
        except ApiError as exc:
            status, body = exc.status, orjson.dumps(exc.body())
            if exc.allow:  # RFC 9110: a 405 names the allowed methods (API fuzzing)
                extra = [(b"allow", exc.allow.encode())]
        except Exception:  # a bug, not bad input: logged, answered 500 without internals
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            status, body = 500, b'{"error":"internal","detail":"unexpected server error (logged)"}'
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", _JSON), (b"content-length", str(len(body)).encode()), *extra],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _route(self, scope, receive) -> tuple[int, bytes]:
        method, parts = scope["method"], scope["path"].strip("/").split("/")
        store = self.store
        if parts[0] == "envelopes":
            if len(parts) == 3 and parts[2] == "grab":  # the hot path first
                if method != "POST":
                    _allow(method, "POST")
                envelope_id = v.envelope_id(parts[1])
                user, request_id = v.parse_grab(await _body(scope, receive))
                return 200, orjson.dumps(await store.grab(envelope_id, user, request_id))
            if len(parts) == 1:
                _allow(method, "POST")
                spec = v.parse_create(await _body(scope, receive))
                return 201, orjson.dumps(await store.create(spec))
            if len(parts) == 2:
                _allow(method, "GET")
                return 200, orjson.dumps(await store.get(v.envelope_id(parts[1])))
            if len(parts) == 3 and parts[2] == "refund":
                _allow(method, "POST")
                envelope_id = v.envelope_id(parts[1])
                refund_id = v.parse_refund(await _body(scope, receive))
                return 200, orjson.dumps(await store.refund(envelope_id, refund_id))
        elif len(parts) == 1:
            if parts[0] == "healthz":
                _allow(method, "GET")
                return 200, orjson.dumps(await store.health())
            if parts[0] == "ledger":
                _allow(method, "GET")
                after_id, limit = _ledger_query(scope["query_string"])
                return 200, orjson.dumps(await store.ledger(after_id, limit))
            if parts[0] == "openapi.json":
                _allow(method, "GET")
                return 200, self._openapi
        raise ApiError(404, "not_found", f"no route {method} {scope['path'][:100]} (see GET /openapi.json)", "path")


def _freeze_startup_heap() -> None:
    """Move every object alive after start-up (the imported numpy/Numba/llvmlite world, the warmed
    kernels) out of the collector's reach with ``gc.freeze()``: a full collection would otherwise
    walk them all while the event loop waits, and those pauses would set the grab's tail latency
    (figures in docs/service.md)."""
    gc.collect()
    gc.freeze()


def _allow(method: str, allowed: str) -> None:
    if method != allowed:
        exc = ApiError(405, "method_not_allowed", f"method {method} not allowed here (use {allowed})", "method")
        exc.allow = allowed
        raise exc


#: a client that announces a body and sends nothing is cut off with 408 after this many seconds
BODY_TIMEOUT_S = float(os.environ.get("HONGBAO_BODY_TIMEOUT_S", "10"))
_JSON_TYPES = (b"application/json",)


def _check_content_type(scope) -> None:
    """A body must be declared JSON: a browser's cross-site "simple" POST (text/plain, forms) to a
    service on 127.0.0.1 is refused with 415 before it can grab anything."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            if value.split(b";", 1)[0].strip().lower() in _JSON_TYPES:
                return
            raise ApiError(
                415,
                "unsupported_media_type",
                f"Content-Type must be application/json (got {value[:60].decode('latin-1')!r})",
                "content-type",
            )
    raise ApiError(
        415, "unsupported_media_type", "Content-Type must be application/json (header missing)", "content-type"
    )


#: tasks reading a request body -> deadline (time.monotonic()); a watchdog task cancels the late ones.
#: One dict insert per request instead of asyncio.timeout, whose timer per body costs a large
#: share of the grab's throughput.
_READING: dict[asyncio.Task, float] = {}
_EXPIRED: set[asyncio.Task] = set()
_WATCHDOG: list[asyncio.Task] = []


async def _watch_bodies() -> None:
    while True:
        await asyncio.sleep(min(1.0, BODY_TIMEOUT_S / 4))
        now = time.monotonic()
        for task, deadline in list(_READING.items()):
            if deadline <= now:
                del _READING[task]
                _EXPIRED.add(task)
                task.cancel()


async def _body(scope, receive) -> bytes:
    """The request body, at most MAX_BODY_BYTES (413 body_too_large as soon as it is exceeded),
    within BODY_TIMEOUT_S (408 body_timeout); a non-empty body must be Content-Type JSON (415)."""
    if not _WATCHDOG or _WATCHDOG[0].done():
        _WATCHDOG[:] = [asyncio.get_running_loop().create_task(_watch_bodies())]
    task = asyncio.current_task()
    assert task is not None  # an ASGI request always runs in a task
    _READING[task] = time.monotonic() + BODY_TIMEOUT_S
    try:
        body = await _read_body(receive)
    except asyncio.CancelledError:
        if task not in _EXPIRED:
            raise
        _EXPIRED.discard(task)
        task.uncancel()  # the watchdog's cancel was delivered here: the request goes on as a 408
        raise ApiError(408, "body_timeout", f"request body not received within {BODY_TIMEOUT_S:g} s", "body") from None
    finally:
        _READING.pop(task, None)
    if body:
        _check_content_type(scope)
    return body


async def _read_body(receive) -> bytes:
    limit = v.MAX_BODY_BYTES
    message = await receive()
    chunk = message.get("body", b"")
    if not message.get("more_body", False) and len(chunk) <= limit:  # the usual single message
        return chunk
    chunks, size = [], 0
    while True:
        if message["type"] == "http.disconnect":
            raise ApiError(400, "disconnected", "client went away before sending the body", "body")
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "body_too_large", f"request body must be <= {limit} bytes", "body")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
        message = await receive()
        chunk = message.get("body", b"")


def _ledger_query(raw: bytes) -> tuple[int, int | None]:
    try:
        query = parse_qs(raw.decode("latin-1"), keep_blank_values=True, max_num_fields=10)  # "after_id=" is 422
    except ValueError as exc:
        raise ApiError(400, "invalid_query", f"query string: {exc}", "query") from None
    for name in query:
        if name not in ("after_id", "limit"):
            raise ApiError(422, "unknown_field", f"{name[:64]} is not a ledger parameter (after_id, limit)", name[:64])
    after_id = _query_int(query, "after_id", 0, v.MAX_ENVELOPE_ID)
    limit = _query_int(query, "limit", 1, 100_000) if "limit" in query else None
    return after_id or 0, limit


def _query_int(query: dict, field: str, lo: int, hi: int) -> int | None:
    if field not in query:
        return None
    text = query[field][-1]
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or not lo <= int(text) <= hi:
        raise ApiError(
            422, "invalid_field", f"{field} must be an integer between {lo} and {hi} (got {text[:40]!r})", field
        )
    return int(text)


def create_app(store: Store) -> GrabService:
    """The ASGI app over ``store`` (opened and closed by the server's lifespan events)."""
    return GrabService(store)


def app_from_env():
    """uvicorn factory: the store from HONGBAO_STORE (default memory), seed from HONGBAO_SEED,
    with Prometheus metrics at GET /metrics (loadtests/service/metrics.py)."""
    from hongbao.loadtests.service.metrics import instrument

    return instrument(
        create_app(open_store(os.environ.get("HONGBAO_STORE", "memory"), seed=int(os.environ.get("HONGBAO_SEED", "0"))))
    )
