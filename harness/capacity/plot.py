"""The capacity plot: latency and throughput against offered load, the knee marked."""
from __future__ import annotations

from pathlib import Path

PLOT_NAME = "capacity_latency.png"


def _knee_label(ramp: dict) -> str:
    knee = ramp.get("knee") or {}
    if not knee.get("grabs_per_second"):
        return f"{ramp['label']}: no knee"
    bound = " (lower bound)" if knee.get("lower_bound") else ""
    return f"{ramp['label']}: knee {knee['grabs_per_second']:,.0f}/s{bound}"


def plot_ramps(capacity: dict, out: Path) -> Path | None:
    """Draw p50/p99 and grabs/s against offered users for every ramp; None when there are no steps."""
    ramps = [r for r in capacity.get("ramps", []) if r.get("steps")]
    if not ramps:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hongbao.harness.report.plots import save

    slo = capacity.get("slo", {}).get("p99_ms")
    fig, (lat, thr) = plt.subplots(1, 2, figsize=(12, 4.6))
    for i, ramp in enumerate(ramps):
        colour, steps = f"C{i}", ramp["steps"]
        knee = ramp.get("knee") or {}
        stop = knee.get("breach_index")
        used = steps if stop is None else steps[:stop + 1]      # the search stops at the breaking step
        after = [] if stop is None else steps[stop:]            # the rest of the bounded ramp: faded
        for part, alpha, label in ((used, 1.0, True), (after, 0.25, False)):
            if not part:
                continue
            users = [s["users"] for s in part]
            lat.plot(users, [s["p99_ms"] for s in part], "o-", color=colour, alpha=alpha,
                     label=f"{ramp['label']} p99" if label else None)
            lat.plot(users, [s["p50_ms"] for s in part], "s--", color=colour, alpha=0.6 * alpha,
                     label=f"{ramp['label']} p50" if label else None)
            thr.plot(users, [s["grabs_per_second"] for s in part], "o-", color=colour, alpha=alpha,
                     label=_knee_label(ramp) if label else None)
        if stop is not None:
            lat.plot([steps[stop]["users"]], [steps[stop]["p99_ms"]], "x", color="red", markersize=11, mew=2.5,
                     zorder=6)
        idx = knee.get("step_index")
        if idx is not None:
            step = steps[idx]
            lat.plot([step["users"]], [step["p99_ms"]], "*", color="black", markersize=16, zorder=5)
            thr.plot([step["users"]], [step["grabs_per_second"]], "*", color="black", markersize=16, zorder=5)
    if slo:
        lat.axhline(slo, color="red", linestyle=":", label=f"p99 SLO {slo:g} ms")
    lat.set_yscale("log")
    lat.set_xlabel("offered load (concurrent Locust users)")
    lat.set_ylabel("grab latency (ms, log scale)")
    lat.set_title("Latency vs offered load (x = step that stopped the search)", fontsize=10)
    lat.legend(fontsize=8)
    thr.set_xlabel("offered load (concurrent Locust users)")
    thr.set_ylabel("grab requests answered per second")
    thr.set_title("Throughput vs offered load (star = knee, faded = after the stop)", fontsize=10)
    thr.set_ylim(bottom=0, top=thr.get_ylim()[1] * 1.1)
    thr.legend(fontsize=8)
    for ax in (lat, thr):
        ax.grid(True, alpha=0.3)
    return save(fig, Path(out) / PLOT_NAME, dpi=110)
