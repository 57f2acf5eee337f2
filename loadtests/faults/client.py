"""A bounded, retrying grab client for fault runs and soaks, through the service's adapter.

Each job is one user's grab on one envelope with a fixed ``request_id``; it is sent at its due
time and retried with the SAME user and request id when no answer came (refused, reset, timed out)
or the answer was a 5xx (store down, service restarting), until it gets a final answer (granted,
sold out, expired, another rejection) or the run's deadline. A REPEAT is the service confirming a
grab whose first answer was lost: it counts as the acknowledgement of that same grab.

The load runs in gevent greenlets, each with its own keep-alive connection (``GreenHttp``: the
kit's ``KeepAliveHttp`` on gevent's sockets, so hundreds of grabs wait cooperatively in one thread
without monkey-patching the process).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import gevent
from gevent import socket as gsocket

from hongbao.loadtests.adapters import BaseAdapter, Grab, Outcome, Reply
from hongbao.loadtests.adapters.keepalive import KeepAliveHttp

RETRY_STATUSES = frozenset({500, 502, 503, 504})
BACKOFF_S = (0.02, 0.05, 0.1, 0.2, 0.3)  # then 0.3 s between attempts
REQUEST_TIMEOUT_S = 3.0
_FINAL = {Outcome.SOLD_OUT: "sold_out", Outcome.EXPIRED: "expired"}


@dataclass(frozen=True, slots=True)
class Job:
    envelope_id: int | str
    user: str
    request_id: str
    due_s: float  # seconds after the run's start


@dataclass(slots=True)
class GrabRecord:
    """What the client saw of one job, from its first attempt to its final answer."""

    job: Job
    status: str = "unresolved"  # ack | sold_out | expired | rejected | unresolved | not_sent
    http_status: int | None = None
    amount_cents: int | None = None
    seq: int | None = None
    repeat: bool = False  # the acknowledgement came as a repeat (first answer lost)
    attempts: int = 0
    retries_after: str = ""  # what forced the first retry, if any
    acked_at_s: float | None = None
    detail: str = ""  # a rejection's words


class GreenHttp(KeepAliveHttp):
    """``KeepAliveHttp`` on gevent sockets; remembers the last answer's status (None: no answer)
    so the retry rule can tell a 5xx behind an adapter's ERROR from a final rejection."""

    last_status: int | None = None

    def _connect(self) -> None:
        if self.tls:
            super()._connect()
            return
        sock = gsocket.create_connection((self.host, self.port), timeout=self.timeout_s)
        sock.setsockopt(gsocket.IPPROTO_TCP, gsocket.TCP_NODELAY, 1)
        self._sock, self._buf = sock, b""

    def request(self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None) -> Reply:
        self.last_status = None
        reply = super().request(method, path, json=json, headers=headers)
        self.last_status = reply.status
        return reply


def no_answer(exc: OSError) -> str:
    """A short cause for a missing answer: the error's class name, not its path-specific words."""
    parts = str(exc).split(": ")
    return parts[1] if len(parts) >= 3 else type(exc).__name__


def attempt(adapter: BaseAdapter, http: GreenHttp, job: Job) -> tuple[Grab | None, str]:
    """One grab through the adapter: (answer, "") or (None, why it is worth retrying)."""
    try:
        answer = adapter.grab(http, job.envelope_id, job.user, job.request_id)
    except OSError as exc:
        return None, no_answer(exc)
    except Exception as exc:  # noqa: BLE001 - the adapter's own failure, like an ERROR answer
        answer = Grab(Outcome.ERROR, detail=f"{type(exc).__name__}: {exc}")
    if answer.outcome is Outcome.ERROR and http.last_status in RETRY_STATUSES:
        return None, f"HTTP {http.last_status}"
    return answer, ""


def grab(
    adapter: BaseAdapter, http: GreenHttp, job: Job, t0: float, deadline: float, out: GrabRecord | None = None
) -> GrabRecord:
    """One job to a final answer: retried with the same user and request id through missing
    answers and 5xx until ``deadline`` (time.monotonic())."""
    out = out or GrabRecord(job)
    while time.monotonic() < deadline:
        out.attempts += 1
        answer, why = attempt(adapter, http, job)
        out.http_status = http.last_status
        if answer is not None:
            if answer.outcome in (Outcome.GRANTED, Outcome.REPEAT):
                out.status, out.amount_cents, out.seq = "ack", answer.amount_cents, answer.seq
                out.repeat, out.acked_at_s = answer.outcome is Outcome.REPEAT, time.monotonic() - t0
            else:
                out.status, out.detail = _FINAL.get(answer.outcome, "rejected"), answer.detail
            return out
        out.retries_after = out.retries_after or why
        gevent.sleep(BACKOFF_S[min(out.attempts - 1, len(BACKOFF_S) - 1)])
    if out.attempts == 0:
        out.status = "not_sent"  # the deadline came while it queued for a slot: a client backlog
    return out


def run_jobs(
    adapter: BaseAdapter, base_url: str, jobs: list[Job], *, concurrency: int, deadline_s: float, t0: float
) -> list[GrabRecord]:
    """Every job at its due time, at most ``concurrency`` in flight (one connection each); stops
    by ``deadline_s`` after ``t0``."""
    queue = deque(sorted(jobs, key=lambda j: j.due_s))
    deadline, done = t0 + deadline_s, []

    def worker() -> None:
        http = GreenHttp(base_url, timeout_s=REQUEST_TIMEOUT_S)
        try:
            while queue:
                job = queue.popleft()
                gevent.sleep(max(0.0, t0 + job.due_s - time.monotonic()))
                done.append(
                    grab(adapter, http, job, t0, deadline)
                    if time.monotonic() < deadline
                    else GrabRecord(job, status="not_sent")
                )
        finally:
            http.close()

    gevent.joinall([gevent.spawn(worker) for _ in range(concurrency)])
    return done


def until_done(call, deadline_s: float, what: str):
    """``call()`` retried through missing answers (OSError) and 5xx-marked failures until it
    returns or ``deadline_s`` passes; RuntimeError naming ``what`` with the last reason."""
    deadline, last = time.monotonic() + deadline_s, "no attempt"
    while time.monotonic() < deadline:
        try:
            return call()
        except (OSError, RuntimeError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.1)
    raise RuntimeError(f"{what} failed for {deadline_s:g} s: {last}")
