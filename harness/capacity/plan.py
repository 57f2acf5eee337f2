"""From measurements to capacity.json: knees, per-core rates, the projection, every assumption."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hongbao.harness.capacity import model
from hongbao.harness.capacity.presets import Target
from hongbao.harness.capacity.ramp import DEFAULT_STEPS
from hongbao.harness.capacity.saturation import RampStep, find_knee
from hongbao.harness.capacity.sources import kernel_rate, load_capacity

SCHEMA = "hongbao-capacity/1"


@dataclass
class Options:
    """What ``hongbao capacity`` was asked (already parsed and checked)."""

    target: Target
    p99_ms: float = 200.0
    error_budget: float = 0.001
    headroom: float = 0.30
    cores_per_instance: int = 16
    stores: list[str] = field(default_factory=lambda: ["memory"])
    workers: list[int] = field(default_factory=lambda: [1])
    processes: int = 1
    steps: int = DEFAULT_STEPS
    step_s: float = 5.0
    start_rate: float = 200.0  # offered grabs/s of the ramp's first step (open model)
    step_rate: float = 400.0  # grabs/s added every step
    seed: int = 3
    from_dir: Path | None = None
    memory_envelopes: int = 2000
    host: str | None = None  # a running service to ramp instead of starting the reference one
    adapter: str | None = None  # its adapter (module:Class)
    metrics: list[str] = field(default_factory=list)  # its /metrics URLs (CPU per grab)
    master: tuple[str, int] | None = None  # fleet: the Locust master binds here for `hongbao worker`s
    expect_workers: int | None = None  # fleet: worker processes each ramp waits for
    workers_wait_s: float = 60.0


Progress = Callable[[str, float, float], None]  # (stage, done, total)


def _quiet(stage: str, done: float, total: float) -> None:
    return None


def measure_ramps(opts: Options, work: Path, progress: Progress = _quiet) -> list[dict]:
    """Run one ramp per store and service worker count (the memory store allows one worker only)."""
    from hongbao.harness.capacity.ramp import run_ramp

    common: dict[str, Any] = dict(  # the arguments every ramp shares
        processes=opts.processes,
        steps=opts.steps,
        step_s=opts.step_s,
        start_rate=opts.start_rate,
        step_rate=opts.step_rate,
        seed=opts.seed,
        stop_p99_ms=opts.p99_ms,
        stop_error_ratio=opts.error_budget,
        master=opts.master,
        expect_workers=opts.expect_workers,
        workers_wait_s=opts.workers_wait_s,
    )
    if opts.host:
        stage = f"ramp: {opts.host}"
        return [
            run_ramp(
                host=opts.host,
                adapter=opts.adapter,
                metrics=opts.metrics,
                workers=opts.workers[0],
                work_dir=work / "ramp-target",
                on_progress=lambda d, t: progress(stage, d, t),
                **common,
            )
        ]
    ramps = []
    for store in opts.stores:
        kind = store.split("://")[0]
        for w in [1] if store == "memory" else opts.workers:
            stage = f"ramp: {kind} store, {w} worker(s)"
            ramps.append(
                run_ramp(
                    store=store,
                    workers=w,
                    work_dir=work / f"ramp-{kind}-w{w}",
                    on_progress=lambda d, t, s=stage: progress(s, d, t),
                    **common,
                )
            )
    return ramps


def kernel_figures(run_dirs: list[Path]) -> dict:
    """Numba serial double_mean shares/s: from a benchmark.json when one exists, else measured now."""
    for d in run_dirs:
        if d and (d / "benchmark.json").is_file():
            found = kernel_rate(d / "benchmark.json")
            if found:
                return found
    import numpy as np

    from hongbao import kernels

    envelopes, count = 100_000, 10
    totals = np.full(envelopes, 10_000, dtype=np.int64)
    kernels.split_batch(totals[:10], count, algorithm="double_mean", parallel=False)  # compile first
    best = min(
        _timed(lambda: kernels.split_batch(totals, count, algorithm="double_mean", parallel=False)) for _ in range(5)
    )
    return {
        "algorithm": "double_mean",
        "count": count,
        "envelopes": envelopes,
        "shares_per_second": envelopes * count / best,
        "python_shares_per_second": None,
        "source": "measured by hongbao capacity (no benchmark.json): best of 5 serial batches",
    }


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _pick(ramps: list[dict]) -> dict | None:
    """The ramp the service projection uses: audited clean, a Redis one when measured (production-like),
    highest knee."""
    usable = [r for r in ramps if (r.get("knee") or {}).get("grabs_per_second") and r.get("audit_ok") is not False]
    if not usable:
        return None
    return max(usable, key=lambda r: (r["store"] == "redis", r["knee"]["grabs_per_second"]))


def build(opts: Options, out: Path, progress: Progress = _quiet) -> dict:
    """Measure what is missing, project, write ``out/capacity.json`` and return it."""
    out.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    earlier = load_capacity(opts.from_dir) if opts.from_dir else None
    stormed = None
    if opts.from_dir and not (earlier and earlier.get("ramps")):
        from hongbao.harness.capacity.ramp import ramp_from_storm

        stormed = ramp_from_storm(opts.from_dir)
    if opts.from_dir and earlier and earlier.get("ramps"):
        ramps = earlier["ramps"]
        notes.append(f"Ramps read from {opts.from_dir / 'capacity.json'} (not re-measured).")
    elif opts.from_dir and stormed:
        ramps = [stormed]
        notes.append(f"Ramp read from the step-ramp storm in {opts.from_dir / 'storm.json'} (not re-measured).")
    else:
        ramps = measure_ramps(opts, out / "capacity-work", progress)
    for ramp in ramps:
        if ramp.get("audit_ok") is False:
            notes.append(
                f"{ramp['label']}: the ramp's post-storm audit FAILED (see {ramp.get('storm_json')}): "
                "a service that loses money has no capacity worth planning."
            )
        if ramp.get("stopped_early"):
            notes.append(
                f"{ramp['label']}: the ramp stopped loading after {ramp['stopped_early']['reason']} "
                "(no step beyond the first breach is run)."
            )
        steps = [RampStep.from_json(s) for s in ramp["steps"]]
        ramp["knee"] = find_knee(steps, opts.p99_ms, opts.error_budget).to_json()
    chosen = _pick(ramps)
    if chosen is None:
        raise RuntimeError(
            "no ramp found a sustainable step: nothing to project from "
            "(see the ramps' stop reasons; start lower or relax --p99)"
        )
    knee = chosen["knee"]
    step = chosen["steps"][knee["step_index"]]
    rate, basis = model.service_rate_per_core(
        knee["grabs_per_second"], step["cpu_cores"].get("service"), chosen["service_workers"]
    )
    basis = f"{chosen['label']}: {basis}"
    if knee["lower_bound"]:
        notes.append(
            f"The knee used for the projection ({chosen['label']}) is a lower bound (see the "
            "saturation search); the service rows rest on its CPU cost per grab, assuming the service "
            "keeps that cost per grab up to a full core."
        )

    if earlier and "measurements" in earlier:
        measurements = earlier["measurements"]
    else:
        from hongbao.harness.capacity.measure import memory_store_bytes, redis_figures

        progress("kernel cost", 0, 1)
        measurements = {"kernel": kernel_figures([d for d in (opts.from_dir, out) if d])}
        progress("store memory", 0, 1)
        measurements["memory_store"] = memory_store_bytes(opts.memory_envelopes, seed=opts.seed)
        redis_url = next((s for s in opts.stores if s.startswith("redis://")), None)
        if redis_url:
            progress("Redis grab script", 0, 1)
            measurements["redis"] = redis_figures(redis_url, seed=opts.seed)
    if opts.host:
        notes.append(
            f"Service rows from {opts.host} (adapter {opts.adapter or 'reference'}; service CPU from "
            f"{', '.join(opts.metrics) if opts.metrics else 'psutil, when it runs on this machine'}). "
            "The memory rows are the kit's own memory store's: the kit cannot see the target's memory."
        )
    kernel = measurements["kernel"]
    per_envelope = {"memory": measurements["memory_store"]["bytes_per_envelope_grabbed"]}
    redis = measurements.get("redis")
    if redis:
        per_envelope["redis"] = redis["bytes_per_envelope_grabbed"]
    elif not opts.host:
        notes.append(
            "Redis not measured (the embedded default runs without it): give "
            "--store redis://HOST:PORT/DB to project Redis shards and Redis memory."
        )
    lg_busy = step["cpu_cores"].get("load_generator")
    inputs = model.Inputs(
        target_grabs_per_second=opts.target.grabs_per_second,
        headroom=opts.headroom,
        service_grabs_per_core=rate,
        service_basis=basis,
        cores_per_instance=opts.cores_per_instance,
        kernel_shares_per_second=kernel["shares_per_second"],
        kernel_basis=f"Numba serial {kernel['algorithm']}, count {kernel['count']} ({kernel['source']})",
        redis_grabs_per_core=redis["grabs_per_redis_core"] if redis else None,
        redis_basis=(
            f"{redis['grabs']:,} grabs / {redis['redis_cpu_seconds']:.2f} redis-server CPU seconds "
            f"(grab script via the Redis store)"
        )
        if redis
        else "",
        loadgen_grabs_per_core=knee["grabs_per_second"] / lg_busy if lg_busy and lg_busy >= 0.05 else None,
        bytes_per_envelope=per_envelope,
        memory_basis=(
            f"measured on envelopes of {measurements['memory_store']['shares_per_envelope']} shares "
            "with every share grabbed (ledger kept): the most an open envelope holds"
        ),
        shares_per_envelope=measurements["memory_store"]["shares_per_envelope"],
        open_envelopes=opts.target.open_envelopes,
    )
    doc = {
        "schema": SCHEMA,
        "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "service_target": chosen.get("target"),  # the stormed service when it was not the kit's own
        "target": opts.target.to_json(),
        "slo": {"p99_ms": opts.p99_ms, "error_budget": opts.error_budget},
        "headroom": opts.headroom,
        "ramps": ramps,
        "projection_ramp": chosen["label"],
        "measurements": measurements,
        "inputs": inputs.to_json(),
        "projection": model.project(inputs),
        "assumptions": list(model.ASSUMPTIONS)
        + [
            f"Open envelopes at the peak: {opts.target.grabs_per_second:,.0f} grabs/s / "
            f"{opts.target.grabs_per_envelope} grabs per envelope x {opts.target.open_window_seconds:g} s "
            f"= {opts.target.open_envelopes:,.0f}."
        ],
        "notes": notes,
    }
    (out / "capacity.json").write_text(json.dumps(doc, indent=2))
    return doc
