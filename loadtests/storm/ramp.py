"""Step-ramp saturation search: one bounded storm whose users grow by a fixed step every
``step_s`` seconds, cut into per-step figures (the capacity model finds the knee in them).

    from hongbao.loadtests.storm.ramp import run_step_ramp
    result = run_step_ramp(out_dir=Path("results/x/ramp"), start_users=10, step_users=20, step_s=5, steps=6)
    result["steps"]  # [{"step", "users", "rps", "grabs_per_s", "p50_ms", "p99_ms", "error_ratio",
                     #   "cpu_percent": {"load_generator", "service", "store"}, "load_generator_saturated"}]
"""
from __future__ import annotations

import json
from pathlib import Path

from hongbao.loadtests.storm import scenario as scen
from hongbao.seeds import seed_file
from hongbao.loadtests.storm.histogram import Histogram
from hongbao.loadtests.storm.run import StormConfig, run_storm
from hongbao.loadtests.storm.shape_plan import ramp as ramp_users

RAMP = seed_file("storms", "ramp.toml")


def per_step(extra: dict, cpu: dict, *, start_users: int, step_users: int, step_s: float, steps: int,
             settle_s: float = 1.0) -> list[dict]:
    """Figures of each ramp step from locust_extra.json data and the CPU samples; the first
    ``settle_s`` of each step (users still spawning) is left out."""
    t0 = float(extra["started_at"])
    cores = cpu.get("cores") or 1
    params = {"start_users": start_users, "step_users": step_users, "step_s": step_s}
    out = []
    for i in range(steps):
        lo, hi = t0 + i * step_s + settle_s, t0 + (i + 1) * step_s
        secs = [s for s in (int(k) for k in extra.get("timeline", {})) if lo <= s and s + 1 <= hi]
        hist, req, fail, ok = Histogram(), 0, 0, 0
        for s in secs:
            names = extra["timeline"][str(s)]
            req += sum(v[0] for k, v in names.items() if k.startswith("grab"))
            fail += sum(v[1] for v in names.values())
            ok += names.get("grab", [0, 0])[0] - names.get("grab", [0, 0])[1]
            hist.merge(Histogram.from_json(extra.get("grab_hist", {}).get(str(s), {})))
        span = max(len(secs), 1)
        cpu_lo, cpu_hi = lo - cpu.get("started_at", t0), hi - cpu.get("started_at", t0)
        samples = [x for x in cpu.get("samples", []) if cpu_lo <= x["t_s"] < cpu_hi]
        cpu_mean = {role: (round(sum(x.get(role, 0) for x in samples) / len(samples), 1) if samples else None)
                    for role in cpu.get("roles", {})}
        lg_procs = max((x.get("load_generator_processes", 1) for x in samples), default=1)
        lg = cpu_mean.get("load_generator")
        p50, p99 = hist.percentile_us(50), hist.percentile_us(99)
        out.append({
            "step": i, "users": ramp_users(params, i * step_s)[0], "seconds": len(secs),
            "rps": round(req / span, 1), "grabs_per_s": round(ok / span, 1),
            "p50_ms": None if p50 is None else p50 / 1000, "p99_ms": None if p99 is None else p99 / 1000,
            "error_ratio": fail / req if req else None, "cpu_percent": cpu_mean,
            "load_generator_saturated": lg is not None and lg > 90 * min(lg_procs, cores),
        })
    return out


def run_step_ramp(*, out_dir: Path, store: str = "memory", host: str | None = None,
                  start_users: int = 10, step_users: int = 20, step_s: float = 5.0, steps: int = 6,
                  processes: int | None = None, seed: int | None = None, scenario_path: Path = RAMP,
                  redis_direct: bool = False, progress: bool = False) -> dict:
    """Run one step ramp (bounded: ``steps * step_s`` seconds) and return per-step figures."""
    if steps < 1 or step_s <= 1 or start_users < 1 or step_users < 0:
        raise ValueError(f"step ramp needs steps >= 1, step_s > 1, start_users >= 1, step_users >= 0 "
                         f"(got {steps}, {step_s}, {start_users}, {step_users})")
    sc = scen.load(scenario_path)
    if sc.shape != "ramp":
        raise ValueError(f"{scenario_path}: shape.kind must be ramp for a step ramp (got {sc.shape})")
    sc = sc.with_overrides(duration_s=steps * step_s, seed=seed)
    shape = {"start_users": start_users + sc.senders, "step_users": step_users, "step_s": step_s}
    outcome = run_storm(StormConfig(scenario=sc, out_dir=Path(out_dir), store=store, host=host,
                                    processes=processes, progress=progress, redis_direct=redis_direct,
                                    shape_overrides=shape))
    result = {"storm_json": str(outcome.path), "exit": outcome.data["exit"],
              "audit_ok": outcome.data.get("audit", {}).get("ok"), "steps": []}
    extra_path = Path(out_dir) / "locust_extra.json"
    if extra_path.is_file() and "cpu" in outcome.data:
        extra = json.loads(extra_path.read_text())
        result["steps"] = per_step(extra, outcome.data["cpu"], start_users=shape["start_users"],
                                   step_users=step_users, step_s=step_s, steps=steps)
    result["load_generator_saturated"] = outcome.data.get("load_generator_saturated")
    return result
