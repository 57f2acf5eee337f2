"""The soak's steady load, in one asyncio loop: a sender creating envelopes, ``concurrency``
grabbers (one keep-alive connection each) retrying with the same request ids through every
fault (client.grab), late grabs timed at an envelope's expiry, and refunders that refund every
envelope once it has expired - racing those late grabs.

Each envelope has ``count`` shares and, in turn, fewer users than shares (the rest is refunded),
as many, or more (the last ones are answered sold_out); one in four also gets LATE_USERS grabs due
within 0.3 s either side of its expiry.
"""
from __future__ import annotations

import asyncio
import heapq
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field

from hongbao.loadtests.faults.client import RETRY_STATUSES, Conn, Job, Outcome, TransportError, grab

LATE_USERS = 3
REFUNDERS = 4
ALGOS = (("pre_split", "double_mean"), ("on_grab", "double_mean"), ("pre_split", "line_cut"),
         ("on_grab", "equal"))


@dataclass
class LoadConfig:
    duration_s: float
    concurrency: int = 48
    count: int = 40
    expires_s: tuple[float, float] = (6.0, 12.0)
    seed: int = 0
    timeout_s: float = 2.0        # per request: SIGSTOP pauses are longer than this
    recover_s: float = 60.0       # retries go on this long after the load window ends


@dataclass
class LoadState:
    """What the clients saw; read by the checker thread (appends only, so reads are safe)."""
    acks_by_env: dict[int, list[Outcome]] = field(default_factory=lambda: defaultdict(list))
    outcomes: list[Outcome] = field(default_factory=list)
    expires_at: dict[int, float] = field(default_factory=dict)   # envelope -> epoch s (Redis clock)
    refunded: dict[int, str] = field(default_factory=dict)       # envelope -> ok | already_refunded | ...
    first_id: int | None = None                                  # the first envelope this soak created
    creates: int = 0
    phases_s: dict[str, float] = field(default_factory=dict)     # when each part of the load ended
    create_retries: int = 0


class Load:
    def __init__(self, cfg: LoadConfig, base_url: str, t0: float):
        host_port = base_url.split("://", 1)[1].rstrip("/")
        self.host, self.port = host_port.rsplit(":", 1)[0], int(host_port.rsplit(":", 1)[1])
        self.cfg, self.t0, self.state = cfg, t0, LoadState()
        self.rng = random.Random(cfg.seed)
        self.deadline = t0 + cfg.duration_s + cfg.recover_s
        self._queue: asyncio.Queue[Job | None] = asyncio.Queue()
        self._due: list[tuple[float, int]] = []     # (expires_at, envelope): the refund schedule
        self._late_pending = 0
        self._sender_done = False
        self.orphans_after_load: list[tuple[float, int]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def _conn(self) -> Conn:
        return Conn(self.host, self.port, self.cfg.timeout_s)

    async def _call(self, conn: Conn, method: str, path: str, body: dict | None, until: float) -> tuple[int, dict]:
        """One call retried through transport errors and 5xx; (0, {}) when ``until`` passed first."""
        pause = 0.02
        while time.monotonic() < until:
            try:
                status, data = await conn.call(method, path, body)
                if status not in RETRY_STATUSES:
                    return status, data
            except TransportError:
                pass
            await asyncio.sleep(pause)
            pause = min(0.3, pause * 2)
        return 0, {}

    async def _sender(self) -> None:
        conn, cfg, n = self._conn(), self.cfg, 0
        end = self.t0 + cfg.duration_s
        while time.monotonic() < end:
            if self._queue.qsize() > 4 * cfg.concurrency:  # keep the grabbers' backlog short
                await asyncio.sleep(0.002)
                continue
            mode, algo = ALGOS[n % len(ALGOS)]
            body = {"sender": f"soak-sender-{n % 50}", "count": cfg.count, "mode": mode, "algorithm": algo,
                    "total_cents": self.rng.randint(cfg.count, cfg.count * 300),
                    "expires_in_s": round(self.rng.uniform(*cfg.expires_s), 3)}
            status, data = await self._call(conn, "POST", "/envelopes", body, end)
            if status != 201:
                continue  # an unanswered create may still exist: the checker adopts such orphans
            eid, users = int(data["id"]), cfg.count + (-cfg.count // 4, 0, cfg.count // 8)[n % 3]
            self.state.first_id = self.state.first_id or eid
            self.adopt(eid, float(data["expires_at"]))
            for u in range(users):
                self._queue.put_nowait(Job(eid, f"soak-u{u}", f"s{cfg.seed}-e{eid}-u{u}", 0.0))
            if n % 4 == 0:
                self._late(eid, float(data["expires_at"]))
            n += 1
        self.state.creates = n
        self._sender_done = True
        self._finish_if_done()
        conn.close()

    def _finish_if_done(self) -> None:
        """Once nothing more can be queued, one stop mark per grabber."""
        if self._sender_done and not self._late_pending:
            for _ in range(self.cfg.concurrency):
                self._queue.put_nowait(None)

    def _late(self, eid: int, expires_at: float) -> None:
        for u in range(LATE_USERS):
            at = expires_at + self.rng.uniform(-0.3, 0.3) - time.time()
            self._late_pending += 1
            self._loop.call_later(max(0.0, at), self._put_late, Job(eid, f"soak-late{u}", f"s{self.cfg.seed}-e{eid}-l{u}", 0.0))

    def _put_late(self, job: Job) -> None:
        self._late_pending -= 1
        self._queue.put_nowait(job)
        self._finish_if_done()

    def adopt(self, eid: int, expires_at: float) -> None:
        """Refund ``eid`` once it expires (also for orphans the checker found); thread-safe."""
        if eid in self.state.expires_at:
            return
        self.state.expires_at[eid] = expires_at
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(heapq.heappush, self._due, (expires_at, eid))
        else:
            self.orphans_after_load.append((expires_at, eid))  # refunded by the soak's last phase

    async def _grabber(self) -> None:
        conn, st = self._conn(), self.state
        while (job := await self._queue.get()) is not None:
            out = await grab(conn, job, self.t0, self.deadline)
            st.outcomes.append(out)
            if out.status == "ack":
                st.acks_by_env[job.envelope_id].append(out)
        conn.close()

    async def _refunder(self, grabbers: asyncio.Future) -> None:
        conn, st = self._conn(), self.state
        while not (grabbers.done() and not self._due):
            if not self._due or self._due[0][0] > time.time():
                await asyncio.sleep(0.01)
                continue
            _, eid = heapq.heappop(self._due)
            body = {"request_id": f"soak-refund-{eid}"}
            while True:
                status, data = await self._call(conn, "POST", f"/envelopes/{eid}/refund", body, self.deadline)
                if status == 409 and data.get("error") == "not_expired":  # clock edge: a moment early
                    await asyncio.sleep(0.05)
                    continue
                st.refunded[eid] = "ok" if status == 200 else data.get("error", f"HTTP {status}")
                break
        conn.close()

    async def run(self) -> None:
        """The whole load; figures in ``self.state`` (not returned: asyncio may repr a task's result)."""
        self._loop = asyncio.get_running_loop()
        sender = asyncio.create_task(self._sender())
        grabbers = asyncio.gather(*(self._grabber() for _ in range(self.cfg.concurrency)))
        refunders = asyncio.gather(*(self._refunder(grabbers) for _ in range(REFUNDERS)))
        for name, part in (("sender_done_s", sender), ("grabbers_done_s", grabbers), ("refunders_done_s", refunders)):
            await part
            self.state.phases_s[name] = round(time.monotonic() - self.t0, 2)

    def timeline(self) -> list[dict]:
        """Acknowledged new grabs per second of the run (repeats counted once, when acknowledged)."""
        per_s: dict[int, int] = defaultdict(int)
        for o in self.state.outcomes:
            if o.status == "ack":
                per_s[int(o.acked_at_s)] += 1
        last = max(per_s, default=0)
        return [{"t_s": s, "acks": per_s.get(s, 0)} for s in range(last + 1)]
