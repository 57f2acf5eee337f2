"""The capacity plot: latency and throughput against offered load, the knee marked."""
from __future__ import annotations

from pathlib import Path

PLOT_NAME = "capacity_latency.png"


def plot_ramps(capacity: dict, out: Path) -> Path | None:
    """Draw p50/p99 and grabs/s against offered users for every ramp; None when there are no steps."""
    ramps = [r for r in capacity.get("ramps", []) if r.get("steps")]
    if not ramps:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    slo = capacity.get("slo", {}).get("p99_ms")
    fig, (lat, thr) = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, ramp in enumerate(ramps):
        colour = f"C{i}"
        users = [s["users"] for s in ramp["steps"]]
        lat.plot(users, [s["p99_ms"] for s in ramp["steps"]], "o-", color=colour, label=f"{ramp['label']} p99")
        lat.plot(users, [s["p50_ms"] for s in ramp["steps"]], "s--", color=colour, alpha=0.6,
                 label=f"{ramp['label']} p50")
        thr.plot(users, [s["grabs_per_second"] for s in ramp["steps"]], "o-", color=colour, label=ramp["label"])
        knee = ramp.get("knee") or {}
        idx = knee.get("step_index")
        if idx is not None:
            step = ramp["steps"][idx]
            tag = "knee (lower bound)" if knee.get("lower_bound") else "knee"
            lat.plot([step["users"]], [step["p99_ms"]], "*", color="black", markersize=16, zorder=5)
            thr.plot([step["users"]], [step["grabs_per_second"]], "*", color="black", markersize=16, zorder=5)
            early = idx < len(ramp["steps"]) / 2        # label on the side with room for it
            thr.annotate(f"{tag}: {step['grabs_per_second']:,.0f}/s", (step["users"], step["grabs_per_second"]),
                         textcoords="offset points", xytext=(12 if early else -12, -16),
                         ha="left" if early else "right", fontsize=9)
    if slo:
        lat.axhline(slo, color="red", linestyle=":", label=f"p99 SLO {slo:g} ms")
    lat.set_yscale("log")
    lat.set_xlabel("offered load (concurrent Locust users)")
    lat.set_ylabel("grab latency (ms, log scale)")
    lat.set_title("Latency vs offered load")
    lat.legend(fontsize=8)
    thr.set_xlabel("offered load (concurrent Locust users)")
    thr.set_ylabel("grab requests answered per second")
    thr.set_title("Throughput vs offered load (star = knee)")
    thr.set_ylim(bottom=0, top=thr.get_ylim()[1] * 1.1)
    thr.legend(fontsize=8)
    for ax in (lat, thr):
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    path = Path(out) / PLOT_NAME
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
