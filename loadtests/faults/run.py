"""One bounded fault run: start redis-server (AOF) + ``hongbao serve``, storm them with the retrying
client, SIGKILL one of them mid-storm, restart it, let clients retry with the same request ids,
then audit the ledger and compare it with every grab a client saw acknowledged."""
from __future__ import annotations

import json
import random
import shutil
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hongbao.loadtests import audit as audit_mod
from hongbao.loadtests.faults import promises
from hongbao.loadtests.faults.client import Job, Outcome, request, run_jobs
from hongbao.loadtests.procs import RedisProc, ServiceProc
from hongbao.loadtests.faults.spec import Fault

PRE_SPLIT_ALGOS = ("line_cut", "double_mean", "beta")
ON_GRAB_ALGOS = ("double_mean", "naive", "equal", "beta")


@dataclass
class FaultRunConfig:
    """A fault run: ``envelopes`` x ``count`` shares, ``users`` each trying every envelope once,
    grabs spread over ``duration_s``; clients keep retrying up to ``recover_s`` after that."""
    fault: Fault
    store: str = "redis"          # "redis" (a redis-server started here) or "memory"
    fsync: str = "everysec"       # appendfsync of that redis-server: always | everysec | no
    envelopes: int = 12
    count: int = 30
    users: int = 36
    duration_s: float = 3.0
    concurrency: int = 16
    burst: float = 0.25           # share of the grabs due in the BURST_S just before the kill
    seed: int = 0
    recover_s: float = 20.0
    work_dir: Path | None = None  # logs and the Redis data dir (default: a temp dir, removed)


@dataclass
class FaultReport:
    ok: bool
    reasons: list[str]
    data: dict = field(default_factory=dict)

    def summary(self) -> str:
        d = self.data
        store = f"redis/appendfsync {d['fsync']}" if d["fsync"] else ("redis/no AOF" if d["store"] == "redis"
                                                                      else d["store"])
        backlog = f", {d['not_sent']} not sent by the deadline (service slower than planned)" if d["not_sent"] else ""
        return (f"{d['fault']} store={store}: "
                f"{d['jobs']} grabs planned, {d['acks']} acknowledged ({d['acks_via_repeat']} via a retry's "
                f"repeat), {d['retried_jobs']} retried, {d['unresolved']} unresolved"
                f"{backlog}; "
                f"lost acks {d['lost_acks']} (promise: {d['promise']}); audit "
                f"{'OK' if d['audit_ok'] else 'FAILED'}: {d['money']['total_cents']} cents = grabbed "
                f"{d['money']['grabbed_cents']} + remaining {d['money']['remaining_cents']} + refunded "
                f"{d['money']['refunded_cents']}; down {d['down_s']:.2f} s")


class FaultInjector(threading.Thread):
    """At ``t0 + fault.at_s``: ``kill()``; ``fault.down_s`` later: ``restart()``. Times are kept
    (seconds after t0) so acknowledgements can be placed relative to the crash."""

    def __init__(self, fault: Fault, kill, restart, t0: float):
        super().__init__(name=f"fault {fault}", daemon=True)
        self.fault, self._kill, self._restart, self.t0 = fault, kill, restart, t0
        self.killed_at_s: float | None = None
        self.up_at_s: float | None = None
        self.error: str | None = None

    def run(self) -> None:
        try:
            time.sleep(max(0.0, self.t0 + self.fault.at_s - time.monotonic()))
            self._kill()
            self.killed_at_s = time.monotonic() - self.t0
            time.sleep(self.fault.down_s)
            self._restart()
            self.up_at_s = time.monotonic() - self.t0
        except Exception as exc:  # noqa: BLE001 - reported in the run's reasons
            self.error = f"{type(exc).__name__}: {exc}"


def _envelope_bodies(cfg: FaultRunConfig, rng: random.Random) -> list[dict]:
    bodies = []
    for i in range(cfg.envelopes):
        pre = i % 2 == 0
        algos = PRE_SPLIT_ALGOS if pre else ON_GRAB_ALGOS
        bodies.append({"sender": f"fault-sender-{i}", "count": cfg.count, "mode": "pre_split" if pre else "on_grab",
                       "algorithm": algos[(i // 2) % len(algos)],
                       "total_cents": rng.randint(cfg.count, cfg.count * 500)})
    return bodies


BURST_S = 0.15


def _jobs(cfg: FaultRunConfig, ids: list[int], rng: random.Random) -> list[Job]:
    """Every user on every envelope once; most due uniformly over the storm, a ``burst`` share
    packed just before the kill so that grabs are in flight when it lands."""
    jobs = []
    for eid in ids:
        for u in range(cfg.users):
            burst = rng.random() < cfg.burst
            due = rng.uniform(max(0.0, cfg.fault.at_s - BURST_S), cfg.fault.at_s) if burst \
                else rng.uniform(0, cfg.duration_s)
            jobs.append(Job(eid, f"fault-u{u}", f"s{cfg.seed}-e{eid}-u{u}", due))
    return jobs


def _compare(outcomes: list[Outcome], ledger: dict, killed_at_s: float | None) -> dict:
    """Every acknowledged grab against the ledger: lost, or recorded with another amount/seq."""
    grabs = {(int(e["envelope_id"]), e["user"]): e for e in ledger["entries"] if e["kind"] == "grab"}
    lost, mismatched, lost_times = [], [], []
    for o in outcomes:
        if o.status != "ack":
            continue
        entry = grabs.get((o.job.envelope_id, o.job.user))
        if entry is None:
            lost.append(o)
            if killed_at_s is not None:
                lost_times.append(round(killed_at_s - o.acked_at_s, 3))
        elif int(entry["amount_cents"]) != o.amount_cents or int(entry["seq"]) != o.seq:
            mismatched.append(f"envelope {o.job.envelope_id} user {o.job.user}: acknowledged "
                              f"{o.amount_cents} cents seq {o.seq}, ledger {entry['amount_cents']} seq {entry['seq']}")
    return {"lost_acks": len(lost), "lost_acks_s_before_kill": sorted(lost_times),
            "lost_acked_at_s": sorted(o.acked_at_s for o in lost),
            "lost_examples": [f"envelope {o.job.envelope_id} user {o.job.user} ({o.amount_cents} cents, "
                              f"acknowledged at {o.acked_at_s:.3f} s)" for o in lost[:5]],
            "mismatched_acks": len(mismatched), "mismatched_examples": mismatched[:5]}


def _money(ledger: dict) -> dict:
    envs = ledger["envelopes"]
    grabbed = sum(int(e["amount_cents"]) for e in ledger["entries"] if e["kind"] == "grab")
    return {"total_cents": sum(int(e["total_cents"]) for e in envs), "grabbed_cents": grabbed,
            "remaining_cents": sum(int(e["remaining_cents"]) for e in envs),
            "refunded_cents": sum(int(e["refunded_cents"]) for e in envs)}


def run_fault(cfg: FaultRunConfig) -> FaultReport:
    """Run ``cfg`` end to end; every process started here is ended (by PID) before returning."""
    with tempfile.TemporaryDirectory(prefix="hb-fault-") as tmp:
        work = Path(cfg.work_dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        data_dir = work / "redis"
        shutil.rmtree(data_dir, ignore_errors=True)  # a previous run's AOF would be replayed into this one
        data_dir.mkdir(parents=True)
        redis_proc = RedisProc(data_dir, cfg.fsync) if cfg.store == "redis" else None
        service = None
        try:
            store_url = redis_proc.start().url if redis_proc else "memory"
            service = ServiceProc(store_url, work / "service.log", seed=cfg.seed).start()
            return _storm(cfg, service, redis_proc)
        finally:
            if service is not None:
                service.stop()
            if redis_proc is not None:
                redis_proc.kill()


def _storm(cfg: FaultRunConfig, service: ServiceProc, redis_proc: RedisProc | None) -> FaultReport:
    rng = random.Random(cfg.seed)
    base = service.base_url
    ids = [int(request(base, "POST", "/envelopes", body=b, ok=(201,))["id"]) for b in _envelope_bodies(cfg, rng)]
    jobs = _jobs(cfg, ids, rng)
    if cfg.fault.target == "redis":
        if redis_proc is None:
            raise ValueError("--fault kill-redis needs the redis store")
        kill, restart = redis_proc.kill, redis_proc.start
    else:
        kill, restart = service.kill, service.start
    started = time.monotonic()
    t0 = time.monotonic()
    injector = FaultInjector(cfg.fault, kill, restart, t0)
    injector.start()
    outcomes = run_jobs(base, jobs, concurrency=cfg.concurrency, deadline_s=cfg.duration_s + cfg.recover_s, t0=t0)
    injector.join(cfg.fault.at_s + cfg.fault.down_s + 60)
    ledger = request(base, "GET", "/ledger", deadline_s=cfg.recover_s)
    acked = Counter(o.job.user for o in outcomes if o.status == "ack")
    audit = audit_mod.audit_ledger(ledger, acknowledged=dict(acked), user_prefix="fault-u")
    statuses = Counter(o.status for o in outcomes)
    data = {"fault": str(cfg.fault), "store": cfg.store, "fsync": cfg.fsync if cfg.store == "redis" else None,
            "seed": cfg.seed, "jobs": len(jobs), "acks": statuses["ack"],
            "acks_via_repeat": sum(1 for o in outcomes if o.status == "ack" and o.repeat),
            "sold_out": statuses["sold_out"], "expired": statuses["expired"], "rejected": statuses["rejected"],
            "unresolved": statuses["unresolved"], "not_sent": statuses["not_sent"],
            "retried_jobs": sum(1 for o in outcomes if o.attempts > 1),
            "first_retry_causes": dict(Counter(o.retries_after for o in outcomes if o.retries_after)),
            "killed_at_s": injector.killed_at_s, "up_at_s": injector.up_at_s,
            "down_s": (injector.up_at_s or 0) - (injector.killed_at_s or 0), "injector_error": injector.error,
            "elapsed_s": round(time.monotonic() - started, 3), "audit_ok": audit.ok,
            "audit_failures": audit.messages(), "ledger_grabs": audit.grabs, "money": _money(ledger),
            **_compare(outcomes, ledger, injector.killed_at_s)}
    data["promise"] = promises.promise(cfg.store, cfg.fault.target, cfg.fsync)
    reasons = promises.broken(data)
    if cfg.work_dir:
        (Path(cfg.work_dir) / "faults.json").write_text(json.dumps({"config": _jsonable(cfg), **data}, indent=2))
    return FaultReport(not reasons, reasons, data)


def _jsonable(cfg: FaultRunConfig) -> dict:
    out = asdict(cfg)
    out["fault"], out["work_dir"] = str(cfg.fault), str(cfg.work_dir) if cfg.work_dir else None
    return out
