"""A bounded, retrying grab client for fault runs (asyncio + httpx).

Each job is one user's grab on one envelope with a fixed ``request_id``; it is sent at its due
time and retried with the SAME user and request id on any transport error, timeout or 5xx
(store down, service restarting) until it gets a final answer (200, 409 sold_out, 410 expired,
another 4xx) or the run's deadline. An answer with ``repeat: true`` is the service confirming a
grab whose first answer was lost: it counts as the acknowledgement of that same grab.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx

RETRY_STATUSES = frozenset({500, 502, 503, 504})
BACKOFF_S = (0.02, 0.05, 0.1, 0.2, 0.3)   # then 0.3 s between attempts
REQUEST_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Job:
    envelope_id: int
    user: str
    request_id: str
    due_s: float          # seconds after the run's start


@dataclass
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


async def _one(client: httpx.AsyncClient, job: Job, t0: float, deadline: float) -> Outcome:
    out = Outcome(job)
    body = {"user": job.user, "request_id": job.request_id}
    while time.monotonic() < deadline:
        out.attempts += 1
        try:
            r = await client.post(f"/envelopes/{job.envelope_id}/grab", json=body)
        except httpx.TransportError as exc:
            out.retries_after = out.retries_after or type(exc).__name__
        else:
            out.http_status = r.status_code
            if r.status_code == 200:
                data = r.json()
                out.status, out.amount_cents, out.seq = "ack", int(data["amount_cents"]), int(data["seq"])
                out.repeat, out.acked_at_s = bool(data.get("repeat")), time.monotonic() - t0
                return out
            if r.status_code not in RETRY_STATUSES:
                code = r.json().get("error", "") if r.headers.get("content-type", "").startswith(
                    "application/json") else ""
                out.status = {"sold_out": "sold_out", "expired": "expired"}.get(code, "rejected")
                return out
            out.retries_after = out.retries_after or f"HTTP {r.status_code}"
        await asyncio.sleep(BACKOFF_S[min(out.attempts - 1, len(BACKOFF_S) - 1)])
    if out.attempts == 0:
        out.status = "not_sent"  # the deadline came while it queued for a slot: a client backlog
    return out


async def _run(base_url: str, jobs: list[Job], concurrency: int, deadline_s: float, t0: float) -> list[Outcome]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)
    deadline = t0 + deadline_s

    async def gated(client, job):
        wait = t0 + job.due_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)  # before taking a slot: waiting jobs hold no connection
        async with gate:
            return await _one(client, job, t0, deadline)

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=REQUEST_TIMEOUT_S) as client:
        return list(await asyncio.gather(*(gated(client, j) for j in sorted(jobs, key=lambda j: j.due_s))))


def run_jobs(base_url: str, jobs: list[Job], *, concurrency: int, deadline_s: float, t0: float) -> list[Outcome]:
    """Run every job (at its due time, at most ``concurrency`` in flight); stops by ``deadline_s``."""
    return asyncio.run(_run(base_url, jobs, concurrency, deadline_s, t0))


def request(base_url: str, method: str, path: str, *, body: dict | None = None, ok: tuple[int, ...] = (200,),
            deadline_s: float = 30.0) -> dict:
    """One call retried through transport errors and 5xx until ``ok`` or ``deadline_s``."""
    deadline, last = time.monotonic() + deadline_s, "no attempt"
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S * 10) as client:
        while time.monotonic() < deadline:
            try:
                r = client.request(method, path, json=body)
                if r.status_code in ok:
                    return r.json()
                last = f"HTTP {r.status_code}: {r.text[:200]}"
                if r.status_code not in RETRY_STATUSES:
                    break
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.1)
    raise RuntimeError(f"{method} {path} failed: {last}")
