"""One bounded storm, end to end: service, Locust, CPU monitor, ledger audit, SLO gate, storm.json.

``run_storm(StormConfig(...))`` is what ``hongbao storm`` calls; tests and the capacity search
call it too. It never leaves a process behind: everything it starts is ended by PID.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from hongbao.loadtests import audit as audit_mod
from hongbao.loadtests import monitor
from hongbao.loadtests import slo as slo_mod
from hongbao.loadtests.adapters import ADAPTER_ENV, load_adapter
from hongbao.loadtests.adapters.http import BlockingHttp, wait_ready
from hongbao.loadtests.audit_client import audit_grants, check_client_behaviours
from hongbao.loadtests.exitcodes import Exit
from hongbao.loadtests.storm import fleet, hdr, procs, results
from hongbao.loadtests.storm.histogram import Histogram
from hongbao.loadtests.storm.progress import watch
from hongbao.loadtests.storm.scenario import SHAPE_ENV, Scenario, arrival_plan
from hongbao.loadtests.storm.target import is_loopback

SCHEMA = "hongbao-storm/1"


@dataclass
class StormConfig:
    scenario: Scenario
    out_dir: Path
    store: str = "memory"
    host: str | None = None  # target a running service instead of starting one
    processes: int | None = None  # Locust --processes N
    workers: int | None = None  # explicit Locust master + N workers
    slos: list = field(default_factory=list)
    progress: bool = True
    grace_s: float = 45.0  # hard timeout = duration + grace
    store_pid: int | None = None  # CPU of the store, when known (e.g. a redis-server we started)
    service_workers: int = 1  # hongbao serve --workers (more than 1 needs Redis)
    redis_direct: bool = False  # Redis-level users (loadtests/redis_user.py), no HTTP service
    shape_overrides: dict = field(default_factory=dict)  # merged into the scenario's [shape]
    adapter: str | None = None  # module:Class of the service's adapter (None: the reference contract)
    metrics: list[str] = field(default_factory=list)  # /metrics URLs: the service's CPU from Prometheus
    master: tuple[str, int] | None = None  # fleet: the Locust master binds here for `hongbao worker`s
    expect_workers: int | None = None  # fleet: worker processes the storm waits for
    workers_wait_s: float = 60.0  # fleet: how long the master waits for them


@dataclass
class StormOutcome:
    exit: Exit
    reasons: list[str]
    data: dict
    path: Path


def _store_pid(cfg: StormConfig) -> int | None:
    if cfg.store_pid:
        return cfg.store_pid
    if cfg.store.startswith("redis"):
        u = urlparse(cfg.store)
        if u.hostname in ("127.0.0.1", "localhost"):
            return monitor.pid_listening_on(u.port or 6379)
    return None


def run_storm(cfg: StormConfig) -> StormOutcome:
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("locust_extra.json", "progress.json", "storm.json", "locust_final.json"):
        (out / stale).unlink(missing_ok=True)  # a rerun into the same folder never reads old results
    sc = cfg.scenario
    service = None
    started = []
    try:
        adapter = load_adapter(cfg.adapter)
        if cfg.redis_direct:
            if not cfg.store.startswith("redis://"):
                raise ValueError(f"--redis-direct needs --store redis://HOST:PORT/DB (got {cfg.store!r})")
            host = cfg.store
        elif cfg.host:
            host = cfg.host.rstrip("/")
            wait_ready(adapter, host, timeout_s=3)
        else:
            service, host = procs.start_service(cfg.store, sc.seed, out / "service.log", cfg.service_workers)
        run_tag = f"s{int(time.time() * 1000):x}"
        env = procs.locust_env(sc.path, sc.duration_s, sc.seed, out, run_tag)
        env[ADAPTER_ENV] = cfg.adapter or ""
        if cfg.adapter:  # Locust runs in the run folder: the user's adapter module imports from here
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), env.get("PYTHONPATH")]))
        if cfg.redis_direct:
            env["HONGBAO_REDIS_URL"] = cfg.store
        if cfg.shape_overrides:
            env[SHAPE_ENV] = json.dumps(cfg.shape_overrides)
        service_pid = (
            service.pid
            if service
            else (
                None
                if cfg.redis_direct or cfg.metrics or not is_loopback(host)
                else monitor.pid_listening_on(urlparse(host).port or 80)
            )
        )
        cpu = monitor.CpuMonitor(
            {
                "load_generator": [],
                "service": [service_pid] if service_pid else [],
                "store": [p for p in [_store_pid(cfg)] if p],
            },
            counters={"service": monitor.metrics_counter(cfg.metrics)} if cfg.metrics else None,
        )
        locustfile = procs.REDIS_LOCUSTFILE if cfg.redis_direct else procs.LOCUSTFILE
        if cfg.master:
            started = [
                fleet.start_master(
                    host=host,
                    env=env,
                    out_dir=out,
                    duration_s=sc.duration_s,
                    bind=cfg.master,
                    expect_workers=cfg.expect_workers or 1,
                    wait_s=cfg.workers_wait_s,
                    locustfile=locustfile,
                )
            ]
        else:
            started = procs.start_locust(
                host=host,
                env=env,
                out_dir=out,
                duration_s=sc.duration_s,
                processes=cfg.processes,
                workers=cfg.workers,
                locustfile=locustfile,
            )
        for p in started:
            cpu.add("load_generator", p.pid)
        cpu.start()
        hard_s = sc.duration_s + cfg.grace_s + (cfg.workers_wait_s if cfg.master else 0)
        timed_out = watch(started[0], out / "progress.json", sc.duration_s, hard_s, show=cfg.progress)
        for p in started[1:]:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        cpu.stop()
        if timed_out:
            return _unusable(
                out, f"Locust did not finish within {hard_s:.0f}s (hard timeout): stopped it; see locust.log"
            )
        fleet_raw = fleet.read(out) if cfg.master else None
        if fleet_raw is not None and (
            why := fleet.unusable_reason(fleet_raw, cfg.expect_workers or 1, cfg.workers_wait_s)
        ):
            return _unusable(out, why)
        extra_path = out / "locust_extra.json"
        if not extra_path.is_file():
            return _unusable(
                out, f"Locust exited with code {started[0].returncode} without results; see {out / 'locust.log'}"
            )
        extra = json.loads(extra_path.read_text())
        window = (extra["started_at"], extra["ended_at"]) if extra.get("started_at") else None
        cpu_summary = cpu.summary(window)  # the storm itself, not Locust's start-up
        if extra.get("setup_error"):
            return _unusable(out, extra["setup_error"])
        ledger = procs.fetch_ledger_redis(cfg.store) if cfg.redis_direct else adapter.export_ledger(BlockingHttp(host))
    except (RuntimeError, OSError, ValueError) as e:
        return _unusable(out, str(e))
    except KeyboardInterrupt:
        return _unusable(out, "interrupted (Ctrl-C): every process of the storm was stopped")
    finally:
        for p in started:
            procs.stop(p)
        if service is not None:
            procs.stop(service)
    outcome = _finish(cfg, out, host, extra, ledger, cpu_summary)
    if fleet_raw is not None:
        plan = arrival_plan(sc, cfg.shape_overrides) if sc.model == "open" else None
        outcome.data["fleet"] = fleet.summary(fleet_raw, cfg.expect_workers or 1, plan)
        outcome.path.write_text(json.dumps(outcome.data, indent=1))
    return outcome


def _audit(ledger: dict | None, extra: dict) -> audit_mod.AuditResult:
    """The full audit of the service's ledger, or, when its adapter exports none, the client-side
    checks on what the grabs returned (loadtests/audit_client.py)."""
    if ledger is None:
        return audit_grants(extra.get("grants", []), extra.get("envelopes", {}), attempts=extra.get("attempts"))
    return audit_mod.audit_ledger(
        ledger,
        attempts=extra.get("attempts"),
        acknowledged=extra.get("grabbed"),
        user_prefix=f"{extra.get('run_tag')}-",
    )


def _finish(cfg: StormConfig, out: Path, host: str, extra: dict, ledger: dict | None, cpu: dict) -> StormOutcome:
    sc = cfg.scenario
    if ledger is not None:
        (out / "ledger.json").write_text(json.dumps(ledger))
    active = results.active_seconds(extra)
    tot = results.totals(extra, active)
    hist = results.grab_histogram(extra)
    rows = results.locust_stats(out)
    audit = _audit(ledger, extra)
    audit.checks += check_client_behaviours(extra.get("answers", []))
    final = results.locust_final(out)
    lg_req, lg_fail = final.get("grab", [0, 0])
    audit.reconciliation["locust_grab_requests_ok"] = lg_req - lg_fail
    saturated, why = monitor.load_generator_saturated(cpu, bool(extra.get("cpu_warning")))
    busy, busy_note = monitor.machine_busy(cpu)
    metrics = {
        "grab_histogram": hist,
        "grab_mean_ms": (hist.mean_us() or 0) / 1000 if hist.total else None,
        "error_ratio": tot["error_ratio"],
        "grabs_per_s": tot["grabs_per_s"],
        "requests_per_s": tot["requests_per_s"],
    }
    gate = slo_mod.gate(cfg.slos, metrics)
    reasons: list[str] = []
    code = Exit.OK
    if tot["requests"] == 0 or tot["grabs_ok"] == 0:
        code = Exit.UNUSABLE
        reasons = [
            f"no grab succeeded ({tot['requests']} requests, {tot['failures']} failed; "
            f"see locust.log and locust_failures.csv)"
        ]
    elif not audit.ok:
        code, reasons = Exit.AUDIT_FAILED, audit.messages()
    elif not all(r["ok"] for r in gate):
        code = Exit.SLO_BREACH
        reasons = [f"SLO {r['slo']} breached: observed {r['observed']}" for r in gate if not r["ok"]]
    data = {
        "schema": SCHEMA,
        "scenario": asdict(sc),
        "host": host,
        "target": {
            "url": host,
            "loopback": is_loopback(host),
            "started_by_kit": cfg.host is None,
            "adapter": cfg.adapter or "reference",
            "metrics": cfg.metrics or None,
            "service_cpu_from": "prometheus " + ", ".join(cfg.metrics) if cfg.metrics else "psutil",
        },
        "store": None if cfg.host else cfg.store,
        "redis_direct": cfg.redis_direct,
        "shape": {"kind": sc.shape, **sc.shape_params, **cfg.shape_overrides},
        "service_workers": None if cfg.host else cfg.service_workers,
        "locust": {
            "processes": cfg.processes,
            "workers": cfg.workers,
            "runner": extra.get("runner"),
            "connected_workers": extra.get("workers"),
            "run_tag": extra.get("run_tag"),
        },
        "load_model": _load_model(sc, cfg.shape_overrides, tot, extra),
        "service_time_ms": Histogram.from_json(extra.get("service", {})).summary_ms(),
        "send_lateness_ms": Histogram.from_json(extra.get("lateness", {})).summary_ms() if sc.model == "open" else None,
        "clients": results.clients(sc, extra),
        "hdr": hdr.write(out, extra, sc.model == "open"),
        "started_at": extra.get("started_at"),
        "ended_at": extra.get("ended_at"),
        "hot_envelope_ids": extra.get("hot_envelope_ids"),
        "totals": tot,
        "latency_ms": results.latency(extra),
        "grab_p50_ms": (hist.percentile_us(50) or 0) / 1000 if hist.total else None,
        "grab_p99_ms": (hist.percentile_us(99) or 0) / 1000 if hist.total else None,
        "timeline": results.timeline(extra),
        "locust_stats": rows,
        "locust_final_totals": final,
        "cpu": cpu,
        "load_generator_saturated": saturated,
        "saturation_note": why,
        "machine_busy": busy,
        "machine_note": busy_note,
        "audit": audit.to_json(),
        "slo": gate,
        "exit": {"code": int(code), "name": code.name, "reasons": reasons},
        "note": "figures from a shared machine; a saturated load generator means the throughput "
        "is Locust's ceiling, not the service's capacity",
    }
    path = out / "storm.json"
    path.write_text(json.dumps(data, indent=1))
    return StormOutcome(code, reasons, data, path)


def _load_model(sc: Scenario, shape_overrides: dict, tot: dict, extra: dict | None = None) -> dict:
    """Closed or open model. Open: the offered arrivals (total and peak grabs/s) beside what was
    answered, the grabs dropped (not started within the tolerance of their intended time) per second,
    and the two latencies: from the intended start (the headline) and the service time."""
    extra = extra or {}
    if sc.model == "closed":
        return {
            "model": "closed",
            "open": False,
            "think_time_s": list(sc.think_time_s),
            "latency_from": "the actual send",
        }
    plan = arrival_plan(sc, shape_overrides)
    seconds = range(int(math.ceil(sc.duration_s)))
    dropped = {int(s): n for s, n in extra.get("dropped", {}).items()}
    t0 = int(extra.get("started_at") or 0)
    total_dropped = sum(dropped.values())
    return {
        "model": "open",
        "open": True,
        "time_unit_s": sc.time_unit_s,
        "pre_allocated_users": sc.pre_allocated_users,
        "max_users": sc.max_users,
        "grabbers_peak": sum(extra.get("pool_peak", {}).values()) or None,
        "generator_gc_longest_pause_ms": max(extra.get("gc_pause_ms", {}).values(), default=None),
        "tolerance_ms": sc.tolerance_ms,
        "tick_ms": sc.tick_ms,
        "latency_from": "the intended start (service time beside it)",
        "offered_grabs": plan.total,
        "offered_grabs_per_s_at_peak": round(max((plan.count_between(t, t + 1) for t in seconds), default=0), 1),
        "dropped_grabs": total_dropped,
        "dropped_ratio": round(total_dropped / plan.total, 6) if plan.total else None,
        "dropped_by_second": {str(s - t0): n for s, n in sorted(dropped.items())},
        "arrivals_with_nothing_to_grab": extra.get("idle", 0),
        "achieved_requests_per_s": tot["requests_per_s"],
    }


def _unusable(out: Path, reason: str) -> StormOutcome:
    data = {"schema": SCHEMA, "exit": {"code": int(Exit.UNUSABLE), "name": "UNUSABLE", "reasons": [reason]}}
    path = out / "storm.json"
    path.write_text(json.dumps(data, indent=1))
    return StormOutcome(Exit.UNUSABLE, [reason], data, path)
