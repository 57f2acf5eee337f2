"""A bounded, retrying grab client for fault runs and soaks (asyncio, raw HTTP/1.1 keep-alive).

Each job is one user's grab on one envelope with a fixed ``request_id``; it is sent at its due
time and retried with the SAME user and request id on any transport error, timeout or 5xx
(store down, service restarting) until it gets a final answer (200, 409 sold_out, 410 expired,
another 4xx) or the run's deadline. An answer with ``repeat: true`` is the service confirming a
grab whose first answer was lost: it counts as the acknowledgement of that same grab.
"""
from __future__ import annotations

import asyncio
import orjson
import time
from dataclasses import dataclass

from hongbao.loadtests.adapters.keepalive import KeepAliveHttp

RETRY_STATUSES = frozenset({500, 502, 503, 504})
BACKOFF_S = (0.02, 0.05, 0.1, 0.2, 0.3)   # then 0.3 s between attempts
REQUEST_TIMEOUT_S = 3.0


@dataclass(frozen=True, slots=True)
class Job:
    envelope_id: int
    user: str
    request_id: str
    due_s: float          # seconds after the run's start


@dataclass(slots=True)
class Outcome:
    job: Job
    status: str = "unresolved"     # ack | sold_out | expired | rejected | unresolved | not_sent
    http_status: int | None = None
    amount_cents: int | None = None
    seq: int | None = None
    repeat: bool = False           # the acknowledgement came as a repeat (first answer lost)
    attempts: int = 0
    retries_after: str = ""        # what forced the first retry, if any
    acked_at_s: float | None = None


class TransportError(Exception):
    """No HTTP answer: refused, reset, timed out, or the connection was cut mid-answer."""


class Conn:
    """One HTTP/1.1 keep-alive connection with a minimal codec: the whole request is one write, the
    answer is read by its Content-Length. Far less client CPU per grab than httpx (measured in the README), which is
    what lets a 2-core machine drive the service and Redis at full speed from the same cores."""

    def __init__(self, host: str, port: int, timeout_s: float = REQUEST_TIMEOUT_S):
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        """(status, JSON answer); TransportError when no whole answer came within ``timeout_s``."""
        payload = orjson.dumps(body) if body is not None else b""
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n").encode()
        try:
            async with asyncio.timeout(self.timeout_s):
                if self._writer is None:
                    self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
                self._writer.write(head + payload)
                raw = (await self._reader.readuntil(b"\r\n\r\n")).lower()
                at = raw.find(b"content-length:")
                data = await self._reader.readexactly(int(raw[at + 15:raw.index(b"\r\n", at)]) if at >= 0 else 0)
        except (OSError, EOFError, TimeoutError, ValueError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError) as exc:
            self.close()  # an answer may still be on its way: never read it as the next one's
            raise TransportError(type(exc).__name__) from None
        if b"connection: close" in raw:
            self.close()
        try:
            return int(raw[9:12]), orjson.loads(data) if data else {}
        except ValueError:
            return int(raw[9:12]), {}

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


def _split(base_url: str) -> tuple[str, int]:
    host_port = base_url.split("://", 1)[1].rstrip("/")
    host, port = host_port.rsplit(":", 1)
    return host, int(port)


async def grab(conn: Conn, job: Job, t0: float, deadline: float, out: Outcome | None = None) -> Outcome:
    """One job to a final answer: retried with the same user and request id through transport
    errors, timeouts and 5xx until ``deadline`` (time.monotonic())."""
    out = out or Outcome(job)
    body = {"user": job.user, "request_id": job.request_id}
    path = f"/envelopes/{job.envelope_id}/grab"
    while time.monotonic() < deadline:
        out.attempts += 1
        try:
            status, data = await conn.call("POST", path, body)
        except TransportError as exc:
            out.retries_after = out.retries_after or str(exc)
        else:
            out.http_status = status
            if status == 200:
                out.status, out.amount_cents, out.seq = "ack", int(data["amount_cents"]), int(data["seq"])
                out.repeat, out.acked_at_s = bool(data.get("repeat")), time.monotonic() - t0
                return out
            if status not in RETRY_STATUSES:
                out.status = {"sold_out": "sold_out", "expired": "expired"}.get(data.get("error"), "rejected")
                return out
            out.retries_after = out.retries_after or f"HTTP {status}"
        await asyncio.sleep(BACKOFF_S[min(out.attempts - 1, len(BACKOFF_S) - 1)])
    if out.attempts == 0:
        out.status = "not_sent"  # the deadline came while it queued for a slot: a client backlog
    return out


async def _run(base_url: str, jobs: list[Job], concurrency: int, deadline_s: float, t0: float) -> list[Outcome]:
    host, port = _split(base_url)
    conns = [Conn(host, port) for _ in range(concurrency)]  # at most `concurrency` in flight: one each
    idle: asyncio.Queue[Conn] = asyncio.Queue()
    for conn in conns:
        idle.put_nowait(conn)
    deadline = t0 + deadline_s

    async def gated(job):
        wait = t0 + job.due_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)  # before taking a connection: waiting jobs hold none
        conn = await idle.get()
        try:
            return await grab(conn, job, t0, deadline)
        finally:
            idle.put_nowait(conn)

    try:
        return list(await asyncio.gather(*(gated(j) for j in sorted(jobs, key=lambda j: j.due_s))))
    finally:
        for conn in conns:
            conn.close()


def run_jobs(base_url: str, jobs: list[Job], *, concurrency: int, deadline_s: float, t0: float) -> list[Outcome]:
    """Run every job (at its due time, at most ``concurrency`` in flight); stops by ``deadline_s``."""
    return asyncio.run(_run(base_url, jobs, concurrency, deadline_s, t0))


def request(base_url: str, method: str, path: str, *, body: dict | None = None, ok: tuple[int, ...] = (200,),
            deadline_s: float = 30.0) -> dict:
    """One call retried through transport errors and 5xx until ``ok`` or ``deadline_s``."""
    deadline, last = time.monotonic() + deadline_s, "no attempt"
    http = KeepAliveHttp(base_url, timeout_s=REQUEST_TIMEOUT_S * 10)
    try:
        while time.monotonic() < deadline:
            try:
                r = http.request(method, path, json=body)
                if r.status in ok:
                    return r.json()
                last = f"HTTP {r.status}: {r.body[:200]!r}"
                if r.status not in RETRY_STATUSES:
                    break
            except OSError as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.1)
    finally:
        http.close()
    raise RuntimeError(f"{method} {path} failed: {last}")
