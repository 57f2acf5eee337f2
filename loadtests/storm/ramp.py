"""Step-ramp saturation search: one bounded storm whose offered arrival rate (open model; users
in the closed model) rises by a fixed step every ``step_s`` seconds, cut into per-step figures
(the capacity model finds the knee in them; harness/capacity/ramp.py runs the storm).

    per_step(extra, storm["cpu"], shape={"start_rate": 200, "step_rate": 400, "step_s": 5}, step_s=5,
             steps=6, plan=arrival_plan(scenario, shape))
    # [{"step", "offered_per_s", "offered", "dropped", "answered_per_s", "grabs_per_s", "rps", "p50_ms",
    #   "p99_ms", "error_ratio", "cpu_percent": {"load_generator", "service", "store"},
    #   "load_generator_saturated"}]
"""

from __future__ import annotations

from hongbao.loadtests.storm.arrivals import ArrivalPlan, ramp_step_rate
from hongbao.loadtests.storm.histogram import Histogram
from hongbao.loadtests.storm.outcomes import GRAB, GRAB_NAMES
from hongbao.loadtests.storm.shape_plan import ramp as ramp_users


def per_step(
    extra: dict,
    cpu: dict,
    *,
    shape: dict,
    step_s: float,
    steps: int,
    settle_s: float = 1.0,
    plan: ArrivalPlan | None = None,
    time_unit_s: float = 1.0,
) -> list[dict]:
    """Figures of each ramp step from locust_extra.json data and the CPU samples; the first
    ``settle_s`` of each step (users spawning, arrivals starting) is left out. ``shape`` holds the
    ramp's ``start_rate``/``step_rate`` (open model, with its arrival ``plan``: offered and dropped
    grabs per step) or ``start_users``/``step_users`` (closed model)."""
    t0 = float(extra["started_at"])
    cores = cpu.get("cores") or 1
    open_model = plan is not None
    dropped_by_s = {int(s): n for s, n in (extra.get("dropped") or {}).items()}
    out = []
    for i in range(steps):
        lo, hi = t0 + i * step_s + settle_s, t0 + (i + 1) * step_s
        secs = [s for s in (int(k) for k in extra.get("timeline", {})) if lo <= s and s + 1 <= hi]
        hist, req, fail, ok, answered = Histogram(), 0, 0, 0, 0
        for s in secs:
            names = extra["timeline"][str(s)]
            req += sum(v[0] for k, v in names.items() if k in GRAB_NAMES)
            fail += sum(v[1] for v in names.values())
            answered += sum(v[0] - v[1] for k, v in names.items() if k in GRAB_NAMES)
            ok += names.get(GRAB, [0, 0])[0] - names.get(GRAB, [0, 0])[1]
            hist.merge(Histogram.from_json(extra.get("grab_hist", {}).get(str(s), {})))
        span = max(len(secs), 1)
        cpu_lo, cpu_hi = lo - cpu.get("started_at", t0), hi - cpu.get("started_at", t0)
        samples = [x for x in cpu.get("samples", []) if cpu_lo <= x["t_s"] < cpu_hi]
        cpu_mean = {
            role: (round(sum(x.get(role, 0) for x in samples) / len(samples), 1) if samples else None)
            for role in cpu.get("roles", {})
        }
        lg_procs = max((x.get("load_generator_processes", 1) for x in samples), default=1)
        lg = cpu_mean.get("load_generator")
        p50, p99 = hist.percentile_us(50), hist.percentile_us(99)
        row = {
            "step": i,
            "users": 0 if open_model else ramp_users(shape, i * step_s)[0],
            "seconds": len(secs),
            "rps": round(req / span, 1),
            "grabs_per_s": round(ok / span, 1),
            "answered_per_s": round(answered / span, 1),
            "p50_ms": None if p50 is None else p50 / 1000,
            "p99_ms": None if p99 is None else p99 / 1000,
            "error_ratio": fail / req if req else None,
            "cpu_percent": cpu_mean,
            "load_generator_saturated": lg is not None and lg > 90 * min(lg_procs, cores),
        }
        if plan is not None and secs:  # the open model
            a, b = min(secs), max(secs) + 1  # the whole seconds measured, as the grabs are
            row.update(
                {
                    "offered_per_s": ramp_step_rate(shape, i, time_unit_s),
                    "offered": round(plan.count_between(a - t0, b - t0), 1),
                    "dropped": sum(n for sec, n in dropped_by_s.items() if a <= sec < b),
                }
            )
        elif open_model:
            row.update({"offered_per_s": ramp_step_rate(shape, i, time_unit_s), "offered": 0.0, "dropped": 0})
        out.append(row)
    return out
