"""A soak under a nemesis (issue 16): steady grab load (soak_load.py) for ``duration_s`` while a
schedule of faults (spec.py) kills, pauses and restarts redis-server and the service; the checker
(soak_check.py) runs after every fault's recovery and once more at the end. Writes soak.json.

The processes are the fault runner's (procs.py): a redis-server with the AOF started here (unless
``store`` names one) and one ``hongbao serve``, on free loopback ports, ended by PID whatever happens.
"""
from __future__ import annotations

import asyncio
import bisect
import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hongbao.loadtests.faults.client import request
from hongbao.loadtests.procs import RedisProc, ServiceProc
from hongbao.loadtests.faults.run import FaultInjector
from hongbao.loadtests.faults.soak_check import Checker
from hongbao.loadtests.faults.soak_load import Load, LoadConfig
from hongbao.loadtests.faults.spec import Fault, default_nemesis


@dataclass
class SoakConfig:
    store: str | None = None               # None: a redis-server with the AOF started here; or a URL
    fsync: str = "everysec"
    nemesis: list[Fault] | None = None     # None: default_nemesis(duration_s, seed)
    load: LoadConfig = field(default_factory=lambda: LoadConfig(600.0))
    seed: int = 0
    out_dir: Path | None = None

    @property
    def duration_s(self) -> float:
        return self.load.duration_s


def _actions(fault: Fault, redis_proc: RedisProc | None, service: ServiceProc):
    """(do, undo) for one fault on the processes started here."""
    proc = redis_proc if fault.target == "redis" else service
    if proc is None:
        raise ValueError(f"{fault}: the soak did not start a redis-server (--store names one)")
    if fault.action == "pause":
        return (lambda: proc.pause(True)), (lambda: proc.pause(False))
    if fault.action == "restart":
        return proc.stop, proc.start
    return proc.kill, proc.start


class Nemesis(threading.Thread):
    """Runs the schedule in order; after each fault, waits for /healthz and runs the checker."""

    def __init__(self, faults: list[Fault], redis_proc, service, checker: Checker, t0: float):
        super().__init__(name="nemesis", daemon=True)
        self.faults, self.redis_proc, self.service, self.checker, self.t0 = faults, redis_proc, service, checker, t0
        self.records: list[dict] = []
        self.error: str | None = None

    def run(self) -> None:
        try:
            for fault in self.faults:
                do, undo = _actions(fault, self.redis_proc, self.service)
                injector = FaultInjector(fault, do, undo, self.t0)
                injector.run()   # in this thread: sleep until at_s, do, wait down_s, undo
                if fault.kind == "kill-redis" and injector.killed_at_s is not None:
                    self.checker.redis_kills_s.append(injector.killed_at_s)
                record = {"kind": fault.kind, "spec": str(fault), "time_s": injector.killed_at_s,
                          "undone_at_s": injector.up_at_s, "error": injector.error}
                self.records.append(record)
                if injector.error:
                    continue
                request(self.service.base_url, "GET", "/healthz", deadline_s=60)
                record["healthy_at_s"] = round(time.monotonic() - self.t0, 3)
                record["check"] = self.checker.check(f"after {fault}")
        except Exception as exc:  # noqa: BLE001 - reported in soak.json and fails the soak
            self.error = f"{type(exc).__name__}: {exc}"


def run_soak(cfg: SoakConfig, progress=None) -> dict:
    """Run the soak; returns soak.json's document (also written to ``cfg.out_dir``)."""
    faults = cfg.nemesis if cfg.nemesis is not None else default_nemesis(cfg.duration_s, seed=cfg.seed)
    with tempfile.TemporaryDirectory(prefix="hb-soak-") as tmp:
        work = Path(cfg.out_dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        data_dir = work / "redis"
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.mkdir(parents=True)
        redis_proc = RedisProc(data_dir, cfg.fsync) if cfg.store is None else None
        service = None
        try:
            store_url = redis_proc.start().url if redis_proc else cfg.store
            service = ServiceProc(store_url, work / "service.log", seed=cfg.seed).start()
            doc = _soak(cfg, faults, service, redis_proc, store_url, progress)
        finally:
            if service is not None:
                service.pause(False)
                service.stop()
            if redis_proc is not None:
                redis_proc.kill()
        if cfg.out_dir:
            (work / "soak.json").write_text(json.dumps(doc, indent=1))
        return doc


def _soak(cfg: SoakConfig, faults, service, redis_proc, store_url: str, progress) -> dict:
    load_cfg = cfg.load
    t0 = time.monotonic()
    load = Load(load_cfg, service.base_url, t0)
    checker = Checker(service.base_url, load, cfg.fsync if redis_proc else None,
                      store_url if store_url.startswith("redis://") else None)
    nemesis = Nemesis(faults, redis_proc, service, checker, t0)
    nemesis.start()
    ticker = _Ticker(load, t0, load_cfg.duration_s, progress)
    ticker.start()
    _run_loop(load.run(), load.state.phases_s, t0)
    phases = {**load.state.phases_s, "load_done_s": round(time.monotonic() - t0, 2)}
    ticker.stop.set()
    nemesis.join(60)
    phases["nemesis_done_s"] = round(time.monotonic() - t0, 2)
    for expires_at, eid in sorted(load.orphans_after_load):
        time.sleep(max(0.0, expires_at - time.time()))
        request(service.base_url, "POST", f"/envelopes/{eid}/refund", body={"request_id": f"soak-refund-{eid}"},
                ok=(200, 409), deadline_s=60)
        load.state.refunded[eid] = "ok"
    drain = checker.check("end (unsettled envelopes)")   # adopts the last orphans
    for expires_at, eid in sorted(load.orphans_after_load):
        if load.state.refunded.get(eid) is None:
            time.sleep(max(0.0, expires_at - time.time()))
            request(service.base_url, "POST", f"/envelopes/{eid}/refund",
                    body={"request_id": f"soak-refund-{eid}"}, ok=(200, 409), deadline_s=60)
    final = checker.check("end (whole ledger)", final=True)
    return {**_document(cfg, faults, load, checker, nemesis, [drain, final]), "phases_s": phases}


def _run_loop(coro, phases: dict, t0: float) -> None:
    try:
        import uvloop
        factory = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(coro)
        phases["loop_returned_s"] = round(time.monotonic() - t0, 2)


class _Ticker(threading.Thread):
    """Calls ``progress(seconds_done, acks)`` about once a second while the load runs."""

    def __init__(self, load: Load, t0: float, duration_s: float, progress):
        super().__init__(name="soak progress", daemon=True)
        self.load, self.t0, self.duration_s, self.progress = load, t0, duration_s, progress
        self.stop = threading.Event()

    def run(self) -> None:
        while self.progress and not self.stop.wait(1.0):
            self.progress(min(self.duration_s, time.monotonic() - self.t0),
                          sum(len(v) for v in list(self.load.state.acks_by_env.values())))


def _document(cfg, faults, load: Load, checker: Checker, nemesis: Nemesis, end_checks: list[dict]) -> dict:
    st = load.state
    ack_times = sorted(o.acked_at_s for o in st.outcomes if o.status == "ack")
    for r in nemesis.records:
        undone = r.get("undone_at_s")
        first = bisect.bisect_left(ack_times, undone) if undone is not None else len(ack_times)
        r["recovery_s"] = round(ack_times[first] - r["time_s"], 3) if first < len(ack_times) else None
        r["down_s"] = round(undone - r["time_s"], 3) if undone is not None and r["time_s"] is not None else None
    statuses: dict[str, int] = {}
    for o in st.outcomes:
        statuses[o.status] = statuses.get(o.status, 0) + 1
    checks = [r["check"] for r in nemesis.records if "check" in r] + end_checks
    failures = [f"{c['label']}: {m}" for c in checks for m in c["failures"]]
    if nemesis.error:
        failures.append(f"nemesis: {nemesis.error}")
    failures += [f"fault {r['spec']}: {r['error']}" for r in nemesis.records if r["error"]]
    final = end_checks[-1]
    acked = statuses.get("ack", 0)
    in_window = sum(1 for a in ack_times if a < cfg.duration_s)
    return {
        "duration_s": cfg.duration_s, "acknowledged": acked, "acknowledged_in_window": in_window,
        "acks_per_s": round(in_window / cfg.duration_s, 1),
        "acks_via_repeat": sum(1 for o in st.outcomes if o.status == "ack" and o.repeat),
        "lost_acks": final["lost_acks"], "lost_acks_beyond_promise": final["lost_acks_beyond_promise"],
        "audit_ok": not failures, "failures": failures[:50],
        "faults": [{k: r.get(k) for k in ("kind", "spec", "time_s", "down_s", "recovery_s", "healthy_at_s", "error")}
                   | {"check_ok": (r.get("check") or {}).get("ok")} for r in nemesis.records],
        "faults_planned": [str(f) for f in faults],
        "grabs": statuses, "retried_grabs": sum(1 for o in st.outcomes if o.attempts > 1),
        "envelopes_created": st.creates, "orphan_envelopes_adopted": checker.orphans,
        "refund_outcomes": _count(st.refunded.values()), "money": final["money"],
        "partial_index_entries": final["partial_index_entries"],
        "checks": [{k: c[k] for k in ("label", "at_s", "envelopes", "acks_checked", "lost_acks", "ok", "seconds")}
                   for c in checks],
        "store": cfg.store or f"redis-server started here, appendonly yes, appendfsync {cfg.fsync}",
        "fsync": cfg.fsync if cfg.store is None else None,
        "config": {**asdict(cfg.load), "seed": cfg.seed},
        "load_average": list(os.getloadavg()), "cpus": os.cpu_count(),
        "timeline": load.timeline(),
    }


def _count(values) -> dict:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out
