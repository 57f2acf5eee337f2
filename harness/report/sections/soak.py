"""Report section for soak.json (``hongbao soak``): acknowledged grabs per second through the
nemesis with every fault marked, the recovery times, and what the checker found."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from hongbao.harness.report.plots import save  # noqa: E402
from hongbao.harness.report.section import Section  # noqa: E402

TITLE = "Soak under a nemesis"
KIND_COLORS = {
    "kill-redis": "tab:red",
    "kill-service": "tab:orange",
    "pause-redis": "tab:purple",
    "pause-service": "tab:blue",
    "restart-redis": "tab:brown",
    "restart-service": "tab:olive",
}


def plot_grabs(doc: dict, path: Path) -> Path | None:
    rows = doc.get("timeline") or []
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(8.0, 3.2))
    ax.plot(
        [r["t_s"] for r in rows], [r["acks"] for r in rows], color="tab:green", lw=0.9, label="acknowledged grabs/s"
    )
    seen = set()
    for f in doc.get("faults") or []:
        if f.get("time_s") is None:
            continue
        color = KIND_COLORS.get(f["kind"], "black")
        ax.axvspan(
            f["time_s"],
            f["time_s"] + (f.get("recovery_s") or f.get("down_s") or 0.5),
            color=color,
            alpha=0.25,
            label=None if f["kind"] in seen else f"{f['kind']} (to recovery)",
        )
        seen.add(f["kind"])
    ax.axhline(
        doc.get("acks_per_s", 0),
        color="black",
        ls=":",
        lw=0.8,
        label=f"mean {doc.get('acks_per_s', 0):,.0f}/s over {doc['duration_s']:g} s",
    )
    ax.set_xlabel("seconds into the soak")
    ax.set_ylabel("grabs/s")
    ax.set_title(f"Soak: {doc['acknowledged']:,} grabs acknowledged through {len(doc.get('faults') or [])} faults")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=4)  # below: no data hidden
    ax.grid(alpha=0.3)
    return save(fig, path)


def markdown(doc: dict) -> str:
    verdict = "clean" if doc["audit_ok"] else "**FAILED**"
    lines = [
        f"{doc['acknowledged']:,} grabs acknowledged in {doc['duration_s']:g} s "
        f"({doc['acks_per_s']:,} /s on average through the faults, {doc.get('cpus')} CPUs, load average "
        f"{', '.join(f'{x:.1f}' for x in doc.get('load_average') or [])}); store: {doc['store']}"
        + (
            f"; service {doc['host']} through {doc.get('adapter')}, nemesis {doc.get('nemesis')}"
            if doc.get("host")
            else ""
        )
        + ".",
        "",
        f"Checker ({len(doc.get('checks') or [])} runs, after every fault and at the end): {verdict}. "
        f"Lost acknowledgements: {doc['lost_acks']} ({doc['lost_acks_beyond_promise']} beyond the promise: "
        f"{doc.get('promise', 'durable')}); index entries without their envelope: "
        f"{doc.get('partial_index_entries')}; refunds: "
        f"{doc.get('refund_outcomes')}; money: {doc.get('money')}.",
        "",
        "| fault | at (s) | down (s) | recovered after (s) | check |",
        "|---|---:|---:|---:|---|",
    ]
    for f in doc.get("faults") or []:
        at = "-" if f.get("time_s") is None else f"{f['time_s']:.1f}"
        lines.append(
            f"| {f['spec']} | {at} | {f.get('down_s')} | {f.get('recovery_s')} | "
            f"{'ok' if f.get('check_ok') else f.get('error') or 'FAILED'} |"
        )
    lines += [f"- FAILED: {m}" for m in doc.get("failures") or []]
    return "\n".join(lines)


def render(run_dir: Path) -> Section | None:
    """The soak section, or None when the run folder has no soak.json."""
    path = Path(run_dir) / "soak.json"
    if not path.is_file():
        return None
    doc = json.loads(path.read_text())
    plot = plot_grabs(doc, Path(run_dir) / "soak_grabs.png")
    return Section(TITLE, markdown(doc), figures=[plot] if plot else [])
