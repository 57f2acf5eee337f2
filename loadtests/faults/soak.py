"""A soak under a nemesis: steady grab load (soak_load.py) for ``duration_s`` while a schedule of
faults (spec.py) kills, pauses and restarts the service (and redis-server), through a nemesis
(nemesis.py); after every fault the adapter's ``ready`` says when the service is back, and the
checker (soak_check.py) runs, once more at the end. Writes soak.json.

Without ``host`` the processes are the kit's (loadtests/procs.py): a redis-server with the AOF
started here (unless ``store`` names one) and one ``hongbao serve``, on free loopback ports, ended
by PID whatever happens, broken by the built-in ``KitNemesis``. With ``host`` the service is the
user's, reached through ``adapter`` and broken by the user's nemesis.
"""

from __future__ import annotations

import bisect
import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hongbao.loadtests.adapters import BaseAdapter, load_adapter
from hongbao.loadtests.adapters.http import wait_ready
from hongbao.loadtests.faults.client import GreenHttp
from hongbao.loadtests.faults.nemesis import History, KitNemesis, Nemesis, steps
from hongbao.loadtests.faults.soak_check import Checker
from hongbao.loadtests.faults.soak_load import Load, LoadConfig
from hongbao.loadtests.faults.spec import Fault, default_nemesis
from hongbao.loadtests.procs import RedisProc, ServiceProc


@dataclass
class SoakConfig:
    store: str | None = None  # None: a redis-server with the AOF started here; or a URL
    fsync: str = "everysec"
    nemesis: list[Fault] | None = None  # the schedule; None: default_nemesis(duration_s, seed)
    load: LoadConfig = field(default_factory=lambda: LoadConfig(600.0))
    seed: int = 0
    out_dir: Path | None = None
    host: str | None = None  # the user's running service (then ``breaker`` breaks it)
    adapter: str | None = None  # module:Class; default the reference contract
    breaker: Nemesis | None = None  # the nemesis for ``host``
    promise: str = "durable"  # durable | none: what acknowledged grabs survive

    @property
    def duration_s(self) -> float:
        return self.load.duration_s


class Schedule(threading.Thread):
    """Runs the faults in order through the nemesis; after each, waits for the adapter's ``ready``
    and runs the checker."""

    def __init__(
        self,
        faults: list[Fault],
        nemesis: Nemesis,
        history: History,
        checker: Checker,
        ready,
        ready_timeout_s: float = 60.0,
    ):
        super().__init__(name="nemesis", daemon=True)
        self.faults, self.nemesis, self.history, self.checker = faults, nemesis, history, checker
        self.ready, self.ready_timeout_s, self.t0 = ready, ready_timeout_s, history.t0
        self.records: list[dict] = []
        self.error: str | None = None

    def run(self) -> None:
        try:
            for fault in self.faults:
                op, undo = steps(fault)
                time.sleep(max(0.0, self.t0 + fault.at_s - time.monotonic()))
                done = self.history.run(self.nemesis, op)
                if fault.kind == "kill-redis" and "error" not in done:
                    self.checker.redis_kills_s.append(done["start_s"])
                error = done.get("error")
                if undo is not None:
                    time.sleep(max(0.0, self.t0 + done["end_s"] + fault.down_s - time.monotonic()))
                    undone = self.history.run(self.nemesis, undo)
                    error = error or undone.get("error")
                else:
                    undone = done
                record = {
                    "kind": fault.kind,
                    "spec": str(fault),
                    "time_s": done["start_s"],
                    "undone_at_s": undone["end_s"],
                    "error": error,
                }
                self.records.append(record)
                if error:
                    continue
                self.ready(self.ready_timeout_s)
                record["healthy_at_s"] = round(time.monotonic() - self.t0, 3)
                record["check"] = self.checker.check(f"after {fault}")
        except Exception as exc:  # noqa: BLE001 - reported in soak.json and fails the soak
            self.error = f"{type(exc).__name__}: {exc}"


def run_soak(cfg: SoakConfig, progress=None) -> dict:
    """Run the soak; returns soak.json's document (also written to ``cfg.out_dir``)."""
    faults = cfg.nemesis if cfg.nemesis is not None else default_nemesis(cfg.duration_s, seed=cfg.seed)
    adapter = load_adapter(cfg.adapter)
    if cfg.host:
        if cfg.breaker is None:
            raise ValueError("a soak of --host needs a nemesis (--nemesis-cmd or --nemesis)")
        wait_ready(adapter, cfg.host, timeout_s=30)
        doc = _soak(cfg, faults, adapter, cfg.host, cfg.breaker, None, None, progress)
        if cfg.out_dir:
            Path(cfg.out_dir).mkdir(parents=True, exist_ok=True)
            (Path(cfg.out_dir) / "soak.json").write_text(json.dumps(doc, indent=1))
        return doc
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
            assert store_url is not None  # cfg.store, or the redis-server started here when it is None
            service = ServiceProc(store_url, work / "service.log", seed=cfg.seed).start()
            nemesis = KitNemesis({"redis": redis_proc, "service": service})
            doc = _soak(cfg, faults, adapter, service.base_url, nemesis, redis_proc, store_url, progress)
        finally:
            if service is not None:
                service.stop()
            if redis_proc is not None:
                redis_proc.kill()
        if cfg.out_dir:
            (work / "soak.json").write_text(json.dumps(doc, indent=1))
        return doc


def _soak(
    cfg: SoakConfig,
    faults,
    adapter: BaseAdapter,
    base_url: str,
    nemesis: Nemesis,
    redis_proc,
    store_url: str | None,
    progress,
) -> dict:
    load_cfg = cfg.load
    t0 = time.monotonic()
    load = Load(load_cfg, base_url, t0, adapter)
    checker = Checker(
        load,
        cfg.fsync if redis_proc else None,
        store_url if store_url and store_url.startswith("redis://") else None,
        cfg.promise,
    )
    nemesis.setup()
    history = History(t0)
    schedule = Schedule(
        faults, nemesis, history, checker, lambda timeout_s: wait_ready(adapter, base_url, timeout_s=timeout_s)
    )
    schedule.start()
    ticker = _Ticker(load, t0, load_cfg.duration_s, progress)
    ticker.start()
    try:
        load.run()
        phases = {**load.state.phases_s, "load_done_s": round(time.monotonic() - t0, 2)}
        ticker.stop.set()
        schedule.join(60)
    finally:
        nemesis.teardown()
    phases["nemesis_done_s"] = round(time.monotonic() - t0, 2)
    http = GreenHttp(base_url, timeout_s=load_cfg.timeout_s)
    try:
        for expires_at, eid in sorted(load.orphans_after_load, key=lambda t: t[0]):
            time.sleep(max(0.0, expires_at - time.time()))
            load.state.refunded[eid] = load.refund(http, eid, time.monotonic() + 60)
        drain = checker.check("end (unsettled envelopes)")  # adopts the last orphans
        for expires_at, eid in sorted(load.orphans_after_load, key=lambda t: t[0]):
            if load.state.refunded.get(eid) is None:
                time.sleep(max(0.0, expires_at - time.time()))
                load.state.refunded[eid] = load.refund(http, eid, time.monotonic() + 60)
    finally:
        http.close()
    final = checker.check("end (whole ledger)", final=True)
    return {
        **_document(cfg, faults, load, checker, schedule, [drain, final]),
        "phases_s": phases,
        "history": history.events,
        "adapter": type(adapter).__name__,
        "host": cfg.host,
        "nemesis": type(nemesis).__name__,
        "promise": cfg.promise,
    }


class _Ticker(threading.Thread):
    """Calls ``progress(seconds_done, acks)`` about once a second while the load runs."""

    def __init__(self, load: Load, t0: float, duration_s: float, progress):
        super().__init__(name="soak progress", daemon=True)
        self.load, self.t0, self.duration_s, self.progress = load, t0, duration_s, progress
        self.stop = threading.Event()

    def run(self) -> None:
        while self.progress and not self.stop.wait(1.0):
            self.progress(
                min(self.duration_s, time.monotonic() - self.t0),
                sum(len(v) for v in list(self.load.state.acks_by_env.values())),
            )


def _document(cfg, faults, load: Load, checker: Checker, nemesis: Schedule, end_checks: list[dict]) -> dict:
    st = load.state
    ack_times = sorted(o.acked_at_s for o in st.outcomes if o.status == "ack" and o.acked_at_s is not None)
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
    if st.double_grants:
        failures.append(
            f"{len(st.double_grants)} of {st.retaps} acknowledged grab(s) sent again with the same "
            "request id were granted a second share: " + "; ".join(st.double_grants[:3])
        )
    if nemesis.error:
        failures.append(f"nemesis: {nemesis.error}")
    failures += [f"fault {r['spec']}: {r['error']}" for r in nemesis.records if r["error"]]
    final = end_checks[-1]
    acked = statuses.get("ack", 0)
    in_window = sum(1 for a in ack_times if a < cfg.duration_s)
    return {
        "duration_s": cfg.duration_s,
        "acknowledged": acked,
        "acknowledged_in_window": in_window,
        "acks_per_s": round(in_window / cfg.duration_s, 1),
        "acks_via_repeat": sum(1 for o in st.outcomes if o.status == "ack" and o.repeat),
        "lost_acks": final["lost_acks"],
        "lost_acks_beyond_promise": final["lost_acks_beyond_promise"],
        "mismatched_acks": final.get("mismatched_acks"),
        "audit_ok": not failures,
        "failures": failures[:50],
        "faults": [
            {k: r.get(k) for k in ("kind", "spec", "time_s", "down_s", "recovery_s", "healthy_at_s", "error")}
            | {"check_ok": (r.get("check") or {}).get("ok")}
            for r in nemesis.records
        ],
        "faults_planned": [str(f) for f in faults],
        "grabs": statuses,
        "retried_grabs": sum(1 for o in st.outcomes if o.attempts > 1),
        "resent_acknowledged_grabs": st.retaps,
        "double_grants_on_resend": len(st.double_grants),
        "envelopes_created": st.creates,
        "orphan_envelopes_adopted": checker.orphans,
        "refund_outcomes": _count(st.refunded.values()),
        "money": final["money"],
        "partial_index_entries": final["partial_index_entries"],
        "checks": [
            {k: c[k] for k in ("label", "at_s", "envelopes", "acks_checked", "lost_acks", "ok", "seconds")}
            for c in checks
        ],
        "store": (
            "the service's own"
            if cfg.host
            else cfg.store or f"redis-server started here, appendonly yes, appendfsync {cfg.fsync}"
        ),
        "fsync": cfg.fsync if cfg.store is None and not cfg.host else None,
        "config": {**asdict(cfg.load), "seed": cfg.seed},
        "load_average": list(os.getloadavg()),
        "cpus": os.cpu_count(),
        "timeline": load.timeline(),
    }


def _count(values) -> dict:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out
