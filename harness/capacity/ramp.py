"""Run one bounded step ramp of offered grabs/s against the grab service, as measured RampSteps.

The storm kit does the running (``loadtests.storm.run.run_storm`` with the open-model ramp
scenario seeds/storms/ramp.toml, real service + real Locust, locally or on a fleet of workers; CPU
of load generator, service and store; post-storm audit) and the cutting into steps
(``loadtests.storm.ramp.per_step``: offered, answered and dropped grabs, p99 from the intended
start); this module adds
what the capacity model needs on top: the service worker count, the CPU of the whole machine (on
a shared machine nothing may saturate on its own while every core is busy), a progress callback,
and the conversion to ``RampStep``.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from hongbao.harness.capacity.saturation import RampStep
from hongbao.seeds import seed_file

#: ramp steps by default: the ramp stops by itself at the knee (past the SLO or dropping grabs), so a
#: slower service never runs the steps beyond it, and a fast one gets far enough to saturate something
DEFAULT_STEPS = 12

RAMP = seed_file("storms", "ramp.toml")  # an open-model step ramp of offered grabs/s


class RampError(RuntimeError):
    """The ramp could not run (service did not start, Locust failed); the message says why."""


class MachineCpu:
    """Samples the machine's busy CPU seconds (all cores) every ``interval_s`` in a thread, and
    calls ``on_tick(elapsed_s)`` at the same pace (the command's progress bar)."""

    def __init__(self, interval_s: float = 0.5, on_tick=None):
        self.interval_s, self.on_tick = interval_s, on_tick
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="machine-cpu", daemon=True)

    def _loop(self) -> None:
        start = time.time()
        while not self._stop.is_set():
            t = psutil.cpu_times()
            self.samples.append((time.time(), sum(t) - t.idle - getattr(t, "iowait", 0.0)))
            if self.on_tick:
                self.on_tick(time.time() - start)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> MachineCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def cores(self, t0: float, t1: float) -> float | None:
        """Average cores busy between t0 and t1 (epoch seconds)."""
        inside = [s for s in self.samples if t0 <= s[0] <= t1]
        if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
            return None
        return max(0.0, (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0]))


def to_steps(
    raw: list[dict], extra: dict, machine: MachineCpu | None, *, step_s: float, settle_s: float, cores: dict[str, float]
) -> list[RampStep]:
    """RampSteps from the storm kit's per-step figures (CPU percent -> cores busy)."""
    started = float(extra["started_at"])
    out = []
    for r in raw:
        requests = int(round((r["rps"] or 0) * (r["seconds"] or 0)))
        busy = {role: pct / 100.0 for role, pct in (r.get("cpu_percent") or {}).items() if pct is not None}
        if machine is not None:
            i = r["step"]
            m = machine.cores(started + i * step_s + settle_s, started + (i + 1) * step_s)
            if m is not None:
                busy["machine"] = m
        out.append(
            RampStep(
                users=int(r["users"]),
                duration_s=float(r["seconds"]),
                requests=requests,
                failures=int(round((r["error_ratio"] or 0) * requests)),
                grabs_per_second=float(r.get("answered_per_s") or r["rps"] or 0),
                p50_ms=float(r["p50_ms"] or 0),
                p99_ms=float(r["p99_ms"] or 0),
                cpu_cores=busy,
                cores={k: v for k, v in cores.items() if k in busy},
                loadgen_saturated=bool(r.get("load_generator_saturated")),
                offered_per_second=r.get("offered_per_s"),
                answered_per_second=r.get("answered_per_s"),
                offered=float(r.get("offered") or 0.0),
                dropped=int(r.get("dropped") or 0),
            )
        )
    return out


def _ramp_json(
    *,
    kind: str,
    workers: int,
    processes: int,
    step_s: float,
    outcome_data: dict,
    storm_json: str,
    raw: list[dict],
    ramp_steps: list[RampStep],
) -> dict:
    target = outcome_data.get("target") or {}
    where = (
        f"target {target.get('url')}" + (" (CPU from /metrics)" if target.get("metrics") else "")
        if kind == "target"
        else f"{kind} store"
    )
    fleet = outcome_data.get("fleet")
    generators = (
        f"a fleet of {fleet['connected_workers']} Locust worker(s) on {len(fleet['hosts'])} host(s)"
        if fleet
        else f"{processes} Locust process(es)"
    )
    model = (outcome_data.get("load_model") or {}).get(
        "model", "open" if raw and "offered_per_s" in raw[0] else "closed"
    )
    return {
        "label": f"{where}, {workers} worker(s), {generators}",
        "store": kind,
        "target": target or None,
        "model": model,
        "fleet": fleet,
        "service_workers": workers,
        "loadgen_processes": processes,
        "step_s": step_s,
        "storm_json": storm_json,
        "audit_ok": outcome_data.get("audit", {}).get("ok"),
        "load_generator_saturated": outcome_data.get("load_generator_saturated"),
        "successful_grabs_per_second": [r["grabs_per_s"] for r in raw],
        "machine_cores": psutil.cpu_count(),
        "steps": [s.to_json() for s in ramp_steps],
    }


def _cores(kind: str, workers: int, processes: int) -> dict[str, float]:
    cores = {"load_generator": float(processes), "service": float(workers), "machine": float(psutil.cpu_count() or 1)}
    if kind == "redis":  # the memory store lives inside the service: no store process
        cores["store"] = 1.0
    return cores


def _steps(
    storm: dict, extra: dict, shape: dict, steps: int, cores: dict, machine: MachineCpu | None, scenario=None
) -> tuple[list[dict], list[RampStep]]:
    """The per-step figures of a ramp storm (open model when its shape has rates) and their RampSteps."""
    from hongbao.loadtests.storm.ramp import per_step
    from hongbao.loadtests.storm.scenario import arrival_plan

    step_s = float(shape.get("step_s", 5))
    plan = arrival_plan(scenario, shape) if scenario is not None and "start_rate" in shape else None
    raw = per_step(
        extra,
        storm["cpu"],
        shape=shape,
        step_s=step_s,
        steps=steps,
        plan=plan,
        time_unit_s=getattr(scenario, "time_unit_s", 1.0),
    )
    for r in raw:
        r["cpu_percent"] = {k: v for k, v in (r.get("cpu_percent") or {}).items() if k in cores}
    return raw, to_steps(raw, extra, machine, step_s=step_s, settle_s=1.0, cores=cores)


def ramp_from_storm(run_dir: Path) -> dict | None:
    """A ramp from an earlier ``hongbao storm`` with a ramp shape (its storm.json + locust_extra.json)."""
    from hongbao.loadtests.storm.scenario import Scenario

    run_dir = Path(run_dir)
    try:
        storm = json.loads((run_dir / "storm.json").read_text())
        extra = json.loads((run_dir / "locust_extra.json").read_text())
    except (OSError, ValueError):
        return None
    shape = storm.get("shape") or {}
    if shape.get("kind") != "ramp" or "cpu" not in storm:
        return None
    shape = {k: v for k, v in shape.items() if k != "kind"}
    sc = storm["scenario"]
    known: dict[str, Any] = {  # the stored scenario's fields, JSON lists back as tuples
        k: tuple(v) if isinstance(v, list) else v for k, v in sc.items() if k in Scenario.__dataclass_fields__
    }
    scenario = Scenario(**known)
    steps = max(1, int(float(sc["duration_s"]) // float(shape.get("step_s", 5))))
    kind = "redis" if str(storm.get("store") or "").startswith("redis") else "memory"
    workers = int(storm.get("service_workers") or 1)
    processes = int((storm.get("locust") or {}).get("processes") or 1)
    cores = _cores(kind, workers, processes)
    raw, ramp_steps = _steps(storm, extra, shape, steps, cores, None, scenario)
    return _ramp_json(
        kind=kind,
        workers=workers,
        processes=processes,
        step_s=float(shape.get("step_s", 5)),
        outcome_data=storm,
        storm_json=str(run_dir / "storm.json"),
        raw=raw,
        ramp_steps=ramp_steps,
    )


def run_ramp(
    *,
    store: str = "memory",
    workers: int = 1,
    processes: int = 1,
    steps: int = DEFAULT_STEPS,
    step_s: float = 5.0,
    start_rate: float = 200.0,
    step_rate: float = 400.0,
    seed: int = 3,
    work_dir: Path,
    on_progress=None,
    stop_p99_ms: float | None = None,
    stop_error_ratio: float | None = None,
    host: str | None = None,
    adapter: str | None = None,
    metrics: list[str] | None = None,
    master: tuple[str, int] | None = None,
    expect_workers: int | None = None,
    workers_wait_s: float = 60.0,
) -> dict:
    """Serve, ramp the offered arrival rate, measure (bounded: ``steps x step_s`` seconds of load);
    returns the ramp as JSON. With ``stop_p99_ms``/``stop_error_ratio`` the ramp ends after the
    first step that breaks them. With ``host`` the ramp storms that running service instead
    (through ``adapter``, its CPU read from ``metrics`` URLs when given), and ``workers`` is how many
    processes it runs. With ``master``/``expect_workers`` the load comes from a fleet of
    ``hongbao worker`` machines (loadtests/storm/fleet.py)."""
    from hongbao.loadtests.storm import scenario as scen
    from hongbao.loadtests.storm.run import StormConfig, run_storm

    sc = scen.load(RAMP).with_overrides(duration_s=steps * step_s, seed=seed)
    shape = {"start_rate": start_rate, "step_rate": step_rate, "step_s": step_s}
    if stop_p99_ms is not None:
        shape["stop_p99_ms"] = stop_p99_ms
    if stop_error_ratio is not None:
        shape["stop_error_ratio"] = stop_error_ratio
    total_s = steps * step_s
    tick = (lambda t: on_progress(min(t, total_s), total_s)) if on_progress else None
    with MachineCpu(on_tick=tick) as machine:
        outcome = run_storm(
            StormConfig(
                scenario=sc,
                out_dir=Path(work_dir),
                store=store,
                host=host,
                adapter=adapter,
                metrics=list(metrics or []),
                processes=processes if processes > 1 and not master else None,
                service_workers=workers,
                progress=False,
                shape_overrides=shape,
                master=master,
                expect_workers=expect_workers,
                workers_wait_s=workers_wait_s,
            )
        )
    extra_path = Path(work_dir) / "locust_extra.json"
    if outcome.data.get("exit", {}).get("name") == "UNUSABLE" or not extra_path.is_file():
        raise RampError("step ramp could not run: " + "; ".join(outcome.reasons or ["see " + str(work_dir)]))
    extra = json.loads(extra_path.read_text())
    stopped = extra.get("stopped_early")
    ran = min(steps, stopped["after_step"] + 1) if stopped else steps
    kind = "target" if host else "redis" if store.startswith("redis") else store
    cores = _cores(kind, workers, expect_workers or processes)
    raw, ramp_steps = _steps(outcome.data, extra, shape, ran, cores, machine, sc)
    result = _ramp_json(
        kind=kind,
        workers=workers,
        processes=processes,
        step_s=step_s,
        outcome_data=outcome.data,
        storm_json=str(outcome.path),
        raw=raw,
        ramp_steps=ramp_steps,
    )
    result["stopped_early"] = stopped
    return result
