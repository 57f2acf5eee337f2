"""One bounded fault run: start redis-server (AOF) + ``hongbao serve`` (or take the user's service at
``host`` with its adapter and nemesis), storm it with the retrying client, kill one of them
mid-storm, restart it, let clients retry with the same request ids, then audit the ledger export
and compare it with every grab a client saw acknowledged."""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from hongbao.loadtests import audit as audit_mod
from hongbao.loadtests.adapters import BaseAdapter, NewEnvelope, load_adapter
from hongbao.loadtests.adapters.http import wait_ready
from hongbao.loadtests.adapters.keepalive import KeepAliveHttp
from hongbao.loadtests.faults import promises
from hongbao.loadtests.faults.client import Job, run_jobs, until_done
from hongbao.loadtests.faults.nemesis import History, KitNemesis, Nemesis, steps
from hongbao.loadtests.faults.spec import Fault
from hongbao.loadtests.procs import RedisProc, ServiceProc

PRE_SPLIT_ALGOS = ("line_cut", "double_mean", "beta")
ON_GRAB_ALGOS = ("double_mean", "naive", "equal", "beta")


@dataclass
class FaultRunConfig:
    """A fault run: ``envelopes`` x ``count`` shares, ``users`` each trying every envelope once,
    grabs spread over ``duration_s``; clients keep retrying up to ``recover_s`` after that."""

    fault: Fault
    store: str = "redis"  # "redis" (a redis-server started here) or "memory"
    fsync: str | None = "everysec"  # appendfsync of that redis-server: always | everysec | no; None: no AOF
    envelopes: int = 12
    count: int = 30
    users: int = 36
    duration_s: float = 3.0
    concurrency: int = 16
    burst: float = 0.25  # share of the grabs due in the BURST_S just before the kill
    seed: int = 0
    recover_s: float = 20.0
    work_dir: Path | None = None  # logs and the Redis data dir (default: a temp dir, removed)
    adapter: str | None = None  # module:Class (default: the reference service's own contract)
    host: str | None = None  # the user's running service (then ``nemesis`` breaks it)
    nemesis: Nemesis | None = None
    promise: str = "durable"  # for ``host``: durable (no acknowledged grab lost) or none


@dataclass
class FaultReport:
    ok: bool
    reasons: list[str]
    data: dict = field(default_factory=dict)

    def summary(self) -> str:
        d = self.data
        store = (
            f"redis/appendfsync {d['fsync']}"
            if d["fsync"]
            else ("redis/no AOF" if d["store"] == "redis" else d["store"])
        )
        backlog = f", {d['not_sent']} not sent by the deadline (service slower than planned)" if d["not_sent"] else ""
        return (
            f"{d['fault']} store={store}: "
            f"{d['jobs']} grabs planned, {d['acks']} acknowledged ({d['acks_via_repeat']} via a retry's "
            f"repeat), {d['retried_jobs']} retried, {d['unresolved']} unresolved"
            f"{backlog}; "
            f"lost acks {d['lost_acks']} (promise: {d['promise']}); audit "
            f"{'OK' if d['audit_ok'] else 'FAILED'}"
            + (
                f": {m['total_cents']} cents = grabbed {m['grabbed_cents']} + remaining {m['remaining_cents']} "
                f"+ refunded {m['refunded_cents']}"
                if (m := d["money"])
                else f" ({d['audit_source']})"
            )
            + f"; down {d['down_s']:.2f} s"
        )


class FaultInjector(threading.Thread):
    """At ``t0 + fault.at_s`` the fault's operation, ``fault.down_s`` later its undo, both through
    ``nemesis`` and into ``history``. Times are kept (seconds after t0) so acknowledgements can be
    placed relative to the fault."""

    def __init__(self, fault: Fault, nemesis: Nemesis, history: History):
        super().__init__(name=f"fault {fault}", daemon=True)
        self.fault, self.nemesis, self.history = fault, nemesis, history
        self.killed_at_s: float | None = None
        self.up_at_s: float | None = None
        self.error: str | None = None

    def run(self) -> None:
        op, undo = steps(self.fault)
        time.sleep(max(0.0, self.history.t0 + self.fault.at_s - time.monotonic()))
        done = self.history.run(self.nemesis, op)
        self.killed_at_s, self.error = done["start_s"], done.get("error")
        if undo is not None:
            time.sleep(max(0.0, self.history.t0 + done["end_s"] + self.fault.down_s - time.monotonic()))
            done = self.history.run(self.nemesis, undo)
            self.error = self.error or done.get("error")
        self.up_at_s = done["end_s"]


def _envelopes(cfg: FaultRunConfig, rng: random.Random) -> list[NewEnvelope]:
    out = []
    for i in range(cfg.envelopes):
        pre = i % 2 == 0
        algos = PRE_SPLIT_ALGOS if pre else ON_GRAB_ALGOS
        out.append(
            NewEnvelope(
                f"fault-sender-{i}",
                rng.randint(cfg.count, cfg.count * 500),
                cfg.count,
                algorithm=algos[(i // 2) % len(algos)],
                mode="pre_split" if pre else "on_grab",
            )
        )
    return out


BURST_S = 0.15


def _jobs(cfg: FaultRunConfig, ids: list, rng: random.Random) -> list[Job]:
    """Every user on every envelope once; most due uniformly over the storm, a ``burst`` share
    packed just before the kill so that grabs are in flight when it lands."""
    jobs = []
    for eid in ids:
        for u in range(cfg.users):
            burst = rng.random() < cfg.burst
            due = (
                rng.uniform(max(0.0, cfg.fault.at_s - BURST_S), cfg.fault.at_s)
                if burst
                else rng.uniform(0, cfg.duration_s)
            )
            jobs.append(Job(eid, f"fault-u{u}", f"s{cfg.seed}-e{eid}-u{u}", due))
    return jobs


def _money(ledger: dict) -> dict:
    envs = ledger["envelopes"]
    grabbed = sum(int(e["amount_cents"]) for e in ledger["entries"] if e["kind"] == "grab")
    return {
        "total_cents": sum(int(e["total_cents"]) for e in envs),
        "grabbed_cents": grabbed,
        "remaining_cents": sum(int(e["remaining_cents"]) for e in envs),
        "refunded_cents": sum(int(e["refunded_cents"]) for e in envs),
    }


def run_fault(cfg: FaultRunConfig) -> FaultReport:
    """Run ``cfg`` end to end; every process started here is ended (by PID) before returning."""
    adapter = load_adapter(cfg.adapter)
    if cfg.host:
        if cfg.nemesis is None:
            raise ValueError("a fault on --host needs a nemesis (--nemesis-cmd or --nemesis)")
        wait_ready(adapter, cfg.host, timeout_s=30)
        return _storm(cfg, adapter, cfg.host, cfg.nemesis, None)
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
            if cfg.fault.target == "redis" and redis_proc is None:
                raise ValueError("--fault kill-redis needs the redis store")
            nemesis = KitNemesis({"redis": redis_proc, "service": service})
            return _storm(cfg, adapter, service.base_url, nemesis, redis_proc)
        finally:
            if service is not None:
                service.stop()
            if redis_proc is not None:
                redis_proc.kill()


def _storm(
    cfg: FaultRunConfig, adapter: BaseAdapter, base: str, nemesis: Nemesis, redis_proc: RedisProc | None
) -> FaultReport:
    rng = random.Random(cfg.seed)
    http = KeepAliveHttp(base, timeout_s=30)
    try:
        ids = [
            until_done(lambda: adapter.create_envelope(http, e), 30, "create envelope")  # noqa: B023 (called before the next e)
            for e in _envelopes(cfg, rng)
        ]
    finally:
        http.close()
    jobs = _jobs(cfg, ids, rng)
    started = t0 = time.monotonic()
    nemesis.setup()
    history = History(t0)
    injector = FaultInjector(cfg.fault, nemesis, history)
    injector.start()
    try:
        outcomes = run_jobs(
            adapter, base, jobs, concurrency=cfg.concurrency, deadline_s=cfg.duration_s + cfg.recover_s, t0=t0
        )
        injector.join(cfg.fault.at_s + cfg.fault.down_s + 60)
    finally:
        nemesis.teardown()
    wait_ready(adapter, base, timeout_s=cfg.recover_s)
    http = KeepAliveHttp(base, timeout_s=60)
    try:
        ledger = until_done(lambda: adapter.export_ledger(http), cfg.recover_s, "the ledger export")
    finally:
        http.close()
    acked = Counter(o.job.user for o in outcomes if o.status == "ack")
    statuses = Counter(o.status for o in outcomes)
    data: dict[str, Any] = {
        "fault": str(cfg.fault),
        "store": cfg.store if not cfg.host else "external",
        "fsync": cfg.fsync if cfg.store == "redis" and not cfg.host else None,
        "host": cfg.host,
        "adapter": type(adapter).__name__,
        "seed": cfg.seed,
        "jobs": len(jobs),
        "acks": statuses["ack"],
        "acks_via_repeat": sum(1 for o in outcomes if o.status == "ack" and o.repeat),
        "sold_out": statuses["sold_out"],
        "expired": statuses["expired"],
        "rejected": statuses["rejected"],
        "unresolved": statuses["unresolved"],
        "not_sent": statuses["not_sent"],
        "retried_jobs": sum(1 for o in outcomes if o.attempts > 1),
        "first_retry_causes": dict(Counter(o.retries_after for o in outcomes if o.retries_after)),
        "killed_at_s": injector.killed_at_s,
        "up_at_s": injector.up_at_s,
        "down_s": (injector.up_at_s or 0) - (injector.killed_at_s or 0),
        "injector_error": injector.error,
        "history": history.events,
        "elapsed_s": round(time.monotonic() - started, 3),
    }
    if ledger is None:
        from hongbao.loadtests import audit_client

        envs = {
            str(i): [e.total_cents, e.count, e.min_cents]
            for i, e in zip(ids, _envelopes(cfg, random.Random(cfg.seed)), strict=True)
        }
        audit = audit_client.audit_grants(
            [[o.job.envelope_id, o.job.user, o.amount_cents] for o in outcomes if o.status == "ack"], envs
        )
        data.update(
            {
                "audit_ok": audit.ok,
                "audit_failures": audit.messages(),
                "ledger_grabs": None,
                "money": None,
                "lost_acks": None,
                "lost_acks_s_before_kill": [],
                "lost_acked_at_s": [],
                "lost_examples": [],
                "mismatched_acks": 0,
                "mismatched_examples": [],
                "audit_source": "client side, no ledger export",
            }
        )
    else:
        audit = audit_mod.audit_ledger(ledger, acknowledged=dict(acked), user_prefix="fault-u")
        data.update(
            {
                "audit_ok": audit.ok,
                "audit_failures": audit.messages(),
                "ledger_grabs": audit.grabs,
                "money": _money(ledger),
                "audit_source": "ledger export",
                **promises.compare_acks(outcomes, ledger, injector.killed_at_s),
            }
        )
    data["promise"] = promises.promise(data["store"], cfg.fault.target, data["fsync"], cfg.promise)
    reasons = promises.broken(data)
    if cfg.work_dir:
        Path(cfg.work_dir).mkdir(parents=True, exist_ok=True)
        (Path(cfg.work_dir) / "faults.json").write_text(json.dumps({"config": _jsonable(cfg), **data}, indent=2))
    return FaultReport(not reasons, reasons, data)


def _jsonable(cfg: FaultRunConfig) -> dict:
    out = {f.name: getattr(cfg, f.name) for f in fields(cfg) if f.name != "nemesis"}
    out["fault"], out["work_dir"] = str(cfg.fault), str(cfg.work_dir) if cfg.work_dir else None
    out["nemesis"] = type(cfg.nemesis).__name__ if cfg.nemesis else None
    return out
