"""The capacity plot: latency, answered grabs/s and dropped grabs against the offered arrival rate
(concurrent users for a closed-model ramp), the knee marked."""

from __future__ import annotations

from pathlib import Path

PLOT_NAME = "capacity_latency.png"


def _knee_label(ramp: dict) -> str:
    knee = ramp.get("knee") or {}
    if not knee.get("grabs_per_second"):
        return f"{ramp['label']}: no knee"
    bound = " (lower bound)" if knee.get("lower_bound") else ""
    if knee.get("offered_per_second") is not None:
        return f"{ramp['label']}: knee {knee['offered_per_second']:,.0f} offered grabs/s{bound}"
    return f"{ramp['label']}: knee {knee['grabs_per_second']:,.0f}/s{bound}"


def _x(step: dict) -> float:
    offered = step.get("offered_per_second")
    return offered if offered is not None else step["users"]


def plot_ramps(capacity: dict, out: Path) -> Path | None:
    """Draw p50/p99 and answered grabs/s (dropped grabs beside) against offered load for every ramp;
    None when there are no steps."""
    ramps = [r for r in capacity.get("ramps", []) if r.get("steps")]
    if not ramps:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hongbao.harness.report.plots import save

    open_model = any(s.get("offered_per_second") is not None for r in ramps for s in r["steps"])
    slo = capacity.get("slo", {}).get("p99_ms")
    fig, (lat, thr) = plt.subplots(1, 2, figsize=(12, 4.6))
    drops = thr.twinx() if open_model else None
    for i, ramp in enumerate(ramps):
        colour, steps = f"C{i}", ramp["steps"]
        knee = ramp.get("knee") or {}
        stop = knee.get("breach_index")
        used = steps if stop is None else steps[: stop + 1]  # the search stops at the breaking step
        after = [] if stop is None else steps[stop:]  # the rest of the bounded ramp: faded
        for part, alpha, label in ((used, 1.0, True), (after, 0.25, False)):
            if not part:
                continue
            x = [_x(s) for s in part]
            lat.plot(
                x,
                [s["p99_ms"] for s in part],
                "o-",
                color=colour,
                alpha=alpha,
                label=f"{ramp['label']} p99" if label else None,
            )
            lat.plot(
                x,
                [s["p50_ms"] for s in part],
                "s--",
                color=colour,
                alpha=0.6 * alpha,
                label=f"{ramp['label']} p50" if label else None,
            )
            thr.plot(
                x,
                [s["grabs_per_second"] for s in part],
                "o-",
                color=colour,
                alpha=alpha,
                label=_knee_label(ramp) if label else None,
            )
            if drops is not None:
                width = 0.25 * (max(x) - min(x)) / max(len(x) - 1, 1) if len(x) > 1 else 1.0
                drops.bar(
                    x,
                    [s.get("dropped") or 0 for s in part],
                    width=width,
                    color=colour,
                    alpha=0.3 * alpha,
                    label=f"{ramp['label']} dropped" if label else None,
                )
        if stop is not None:
            lat.plot([_x(steps[stop])], [steps[stop]["p99_ms"]], "x", color="red", markersize=11, mew=2.5, zorder=6)
        idx = knee.get("step_index")
        if idx is not None:
            step = steps[idx]
            lat.plot([_x(step)], [step["p99_ms"]], "*", color="black", markersize=16, zorder=5)
            thr.plot([_x(step)], [step["grabs_per_second"]], "*", color="black", markersize=16, zorder=5)
    if slo:
        lat.axhline(slo, color="red", linestyle=":", label=f"p99 SLO {slo:g} ms")
    xlabel = "offered grabs/s (arrival rate)" if open_model else "offered load (concurrent Locust users)"
    lat.set_yscale("log")
    lat.set_xlabel(xlabel)
    lat.set_ylabel("grab latency (ms, log)" + (", from the intended start" if open_model else ""))
    lat.set_title("Latency vs offered load (x = step that stopped the search)", fontsize=10)
    lat.legend(fontsize=8)
    thr.set_xlabel(xlabel)
    thr.set_ylabel("grab requests answered per second")
    if drops is not None:  # the open model's twin axis
        top = max(_x(s) for r in ramps for s in r["steps"])
        thr.plot([0, top], [0, top], ":", color="grey", label="answered = offered")
        drops.set_ylabel("dropped grabs per step (bars)")
        drops.set_ylim(bottom=0)
        drops.legend(fontsize=8, loc="lower right")
    thr.set_title("Answered vs offered (star = knee, faded = after the stop)", fontsize=10)
    thr.set_ylim(bottom=0, top=thr.get_ylim()[1] * 1.1)
    thr.legend(fontsize=8, loc="upper left")
    for ax in (lat, thr):
        ax.grid(True, alpha=0.3)
    return save(fig, Path(out) / PLOT_NAME, dpi=110)
