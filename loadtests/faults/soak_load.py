"""The soak's steady load, in gevent greenlets and through the service's adapter: SENDERS creating
envelopes, ``concurrency`` grabbers (one keep-alive connection each) retrying with the same request
ids through every fault (client.grab), late grabs timed at an envelope's expiry, and - when the
adapter can refund - refunders that refund every envelope once it has expired, racing those late
grabs.

One acknowledged grab in RETAP_EVERY (by its request id) is sent once more, as a client that
never saw the answer would: it must come back as a repeat, not a second share.

Each envelope has ``count`` shares and, in turn, fewer users than shares (the rest is refunded),
as many, or more (the last ones are answered sold_out); one in four also gets LATE_USERS grabs due
within 0.3 s either side of its expiry.
"""

from __future__ import annotations

import heapq
import random
import threading
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass, field

import gevent
from gevent.queue import Queue

from hongbao.loadtests.adapters import BaseAdapter, NewEnvelope
from hongbao.loadtests.faults.client import RETRY_STATUSES, GrabRecord, GreenHttp, Job, grab

LATE_USERS = 3
REFUNDERS = 4
SENDERS = 2  # creates in flight: one alone cannot keep 48 grabbers busy
RETAP_EVERY = 50
ALGOS = (("pre_split", "double_mean"), ("on_grab", "double_mean"), ("pre_split", "line_cut"), ("on_grab", "equal"))


@dataclass
class LoadConfig:
    duration_s: float
    concurrency: int = 48
    count: int = 40
    expires_s: tuple[float, float] = (6.0, 12.0)
    seed: int = 0
    timeout_s: float = 2.0  # per request: SIGSTOP pauses are longer than this
    recover_s: float = 60.0  # retries go on this long after the load window ends


@dataclass
class LoadState:
    """What the clients saw; read by the checker thread (appends only, so reads are safe)."""

    acks_by_env: dict[int | str, list[GrabRecord]] = field(default_factory=lambda: defaultdict(list))
    outcomes: list[GrabRecord] = field(default_factory=list)
    expires_at: dict[int | str, float] = field(default_factory=dict)  # envelope -> epoch s (client clock)
    envelopes: dict[str, list[int]] = field(default_factory=dict)  # str(id) -> [total, count, min] created
    refunded: dict[int | str, str] = field(default_factory=dict)  # envelope -> ok | already_refunded | ...
    first_id: int | str | None = None  # the first envelope this soak created
    creates: int = 0
    phases_s: dict[str, float] = field(default_factory=dict)  # when each part of the load ended
    create_retries: int = 0
    retaps: int = 0  # acknowledged grabs sent again
    double_grants: list[str] = field(default_factory=list)  # ... and granted a second share


class Load:
    def __init__(self, cfg: LoadConfig, base_url: str, t0: float, adapter: BaseAdapter):
        self.base_url, self.adapter = base_url, adapter
        self.cfg, self.t0, self.state = cfg, t0, LoadState()
        self.deadline = t0 + cfg.duration_s + cfg.recover_s
        self.refunds = adapter.can_refund()
        self._queue: Queue = Queue()
        self._due: list[tuple[float, int | str]] = []  # (expires_at, envelope): the refund schedule
        self._due_lock = threading.Lock()
        self._late_pending = 0
        self._sender_done = False
        self._senders_left = SENDERS
        self._next = 0  # the next envelope's number
        self._running = False
        self.orphans_after_load: list[tuple[float, int | str]] = []

    def _http(self) -> GreenHttp:
        return GreenHttp(self.base_url, timeout_s=self.cfg.timeout_s)

    def _until(self, call, http: GreenHttp, until: float):
        """``call()`` retried through missing answers and 5xx; None when ``until`` passed first."""
        pause = 0.02
        while time.monotonic() < until:
            try:
                said = call()
                if http.last_status not in RETRY_STATUSES:
                    return said
            except OSError:
                pass
            except Exception:  # noqa: BLE001 - an adapter's refusal: retried only after a 5xx
                if http.last_status not in RETRY_STATUSES:
                    return None
            gevent.sleep(pause)
            pause = min(0.3, pause * 2)
        return None

    def _sender(self) -> None:
        http, cfg = self._http(), self.cfg
        end = self.t0 + cfg.duration_s
        while time.monotonic() < end:
            if self._queue.qsize() > 4 * cfg.concurrency:  # keep the grabbers' backlog short (tens of ms)
                gevent.sleep(0.01)
                continue
            n, self._next = self._next, self._next + 1  # this envelope's number: its shape and its RNG
            rng = random.Random(f"{cfg.seed}:{n}")
            mode, algo = ALGOS[n % len(ALGOS)]
            env = NewEnvelope(
                f"soak-sender-{n % 50}",
                rng.randint(cfg.count, cfg.count * 300),
                cfg.count,
                expires_in_s=round(rng.uniform(*cfg.expires_s), 3),
                algorithm=algo,
                mode=mode,
            )
            # _until calls the lambda before returning, so it always sees this turn's env
            eid = self._until(lambda: self.adapter.create_envelope(http, env), http, end)  # noqa: B023
            if eid is None:
                continue  # an unanswered create may still exist: the checker adopts such orphans
            users = cfg.count + (-cfg.count // 4, 0, cfg.count // 8)[n % 3]
            self.state.first_id = self.state.first_id or eid
            self.state.creates += 1
            self.state.envelopes[str(eid)] = [env.total_cents, env.count, env.min_cents]
            expires_at = time.time() + env.expires_in_s
            self.adopt(eid, expires_at)
            for u in range(users):
                self._queue.put_nowait(Job(eid, f"soak-u{u}", f"s{cfg.seed}-e{eid}-u{u}", 0.0))
            if n % 4 == 0:
                self._late(eid, expires_at, rng)
        self._senders_left -= 1
        self._sender_done = not self._senders_left
        self._finish_if_done()
        http.close()

    def _finish_if_done(self) -> None:
        """Once nothing more can be queued, one stop mark per grabber."""
        if self._sender_done and not self._late_pending:
            for _ in range(self.cfg.concurrency):
                self._queue.put_nowait(None)

    def _late(self, eid: int | str, expires_at: float, rng: random.Random) -> None:
        for u in range(LATE_USERS):
            at = expires_at + rng.uniform(-0.3, 0.3) - time.time()
            self._late_pending += 1
            gevent.spawn_later(
                max(0.0, at), self._put_late, Job(eid, f"soak-late{u}", f"s{self.cfg.seed}-e{eid}-l{u}", 0.0)
            )

    def _put_late(self, job: Job) -> None:
        self._late_pending -= 1
        self._queue.put_nowait(job)
        self._finish_if_done()

    def adopt(self, eid: int | str, expires_at: float) -> None:
        """Refund ``eid`` once it expires (also for orphans the checker found); thread-safe."""
        if eid in self.state.expires_at:
            return
        self.state.expires_at[eid] = expires_at
        if not self.refunds:
            return
        if self._running:
            with self._due_lock:
                heapq.heappush(self._due, (expires_at, eid))
        else:
            self.orphans_after_load.append((expires_at, eid))  # refunded by the soak's last phase

    def _grabber(self) -> None:
        http, st = self._http(), self.state
        while (job := self._queue.get()) is not None:
            out = grab(self.adapter, http, job, self.t0, self.deadline)
            st.outcomes.append(out)
            if out.status == "ack":
                st.acks_by_env[job.envelope_id].append(out)
                if zlib.crc32(job.request_id.encode()) % RETAP_EVERY == 0:
                    self._retap(http, job, out)
        http.close()

    def _retap(self, http: GreenHttp, job: Job, first: GrabRecord) -> None:
        """The same grab again (same user, same request id): anything but a repeat pays twice."""
        again = grab(self.adapter, http, job, self.t0, self.deadline)
        self.state.retaps += 1
        if again.status == "ack" and not again.repeat:
            self.state.double_grants.append(
                f"envelope {job.envelope_id} user {job.user} request {job.request_id}: "
                f"granted {first.amount_cents} then {again.amount_cents} cents"
            )

    def refund(self, http: GreenHttp, eid: int | str, until: float) -> str:
        """Refund ``eid`` through the adapter, asking again while it is a moment early."""
        request_id = f"soak-refund-{eid}"
        while True:
            said = self._until(lambda: self.adapter.refund(http, eid, request_id), http, until)
            if said != "not_expired" or time.monotonic() >= until:
                return said or f"HTTP {http.last_status}"
            gevent.sleep(0.05)  # clock edge: a moment early

    def _next_due(self) -> tuple[float, int | str] | float:
        """The next envelope due for its refund, or how long to wait for one (at most 50 ms)."""
        with self._due_lock:
            wait = self._due[0][0] - time.time() if self._due else 0.05
            if wait <= 0:
                return heapq.heappop(self._due)
            return min(wait, 0.05)

    def _refunder(self, grabbers: list) -> None:
        http, st = self._http(), self.state
        while not (all(g.dead for g in grabbers) and not self._due):
            due = self._next_due()
            if isinstance(due, float):
                gevent.sleep(due)
                continue
            st.refunded[due[1]] = self.refund(http, due[1], self.deadline)
        http.close()

    def run(self) -> None:
        """The whole load; figures in ``self.state``."""
        self._running = True
        try:
            senders = [gevent.spawn(self._sender) for _ in range(SENDERS)]
            grabbers = [gevent.spawn(self._grabber) for _ in range(self.cfg.concurrency)]
            refunders = [gevent.spawn(self._refunder, grabbers) for _ in range(REFUNDERS if self.refunds else 0)]
            for name, part in (
                ("sender_done_s", senders),
                ("grabbers_done_s", grabbers),
                ("refunders_done_s", refunders),
            ):
                gevent.joinall(part, raise_error=True)
                self.state.phases_s[name] = round(time.monotonic() - self.t0, 2)
        finally:
            self._running = False

    def timeline(self) -> list[dict]:
        """Acknowledged new grabs per second of the run (repeats counted once, when acknowledged)."""
        per_s: dict[int, int] = defaultdict(int)
        for o in self.state.outcomes:
            if o.status == "ack" and o.acked_at_s is not None:  # an ack always carries its time
                per_s[int(o.acked_at_s)] += 1
        last = max(per_s, default=0)
        return [{"t_s": s, "acks": per_s.get(s, 0)} for s in range(last + 1)]
