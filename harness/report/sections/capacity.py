"""Report section for capacity.json: the knees, the projection table, every assumption, the plot."""

from __future__ import annotations

from pathlib import Path

from hongbao.harness.capacity.plot import plot_ramps
from hongbao.harness.capacity.saturation import LIMIT_NAMES
from hongbao.harness.capacity.sources import load_capacity
from hongbao.harness.report.section import Section


def _fmt(value) -> str:
    if isinstance(value, float):
        if abs(value) < 10:
            return f"{value:,.4g}"
        return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "—" if value is None else str(value)


def _knee_table(ramps: list[dict]) -> list[str]:
    lines = [
        "| ramp | knee: offered grabs/s | answered grabs/s | dropped | p99 at knee (ms) | stopped because | "
        "limited by | bound |",
        "|---|---:|---:|---:|---:|---|---|---|",
    ]
    for ramp in ramps:
        knee = ramp.get("knee") or {}
        rate = knee.get("grabs_per_second")
        offered = knee.get("offered_per_second")
        knee_cell = "none" if not rate else _fmt(offered) if offered else "— (closed model)"
        limiting = knee.get("limiting")
        limited_by = LIMIT_NAMES.get(limiting, limiting) if isinstance(limiting, str) else limiting
        lines.append(
            f"| {ramp['label']} | {knee_cell} | {_fmt(rate) if rate else 'none'} | "
            f"{_fmt(knee.get('dropped'))} | {_fmt(knee.get('p99_ms'))} | "
            f"{knee.get('stop_reason', '')} | {limited_by} | "
            f"{'lower bound' if knee.get('lower_bound') else 'measured'} |"
        )
    return lines


def markdown(capacity: dict) -> str:
    """The section's markdown from a capacity.json document."""
    target, slo = capacity["target"], capacity.get("slo", {})
    out = [
        f"Target: **{target['title']}** — {target['grabs_per_second']:,.0f} {target.get('metric', 'grabs/s')}; "
        f"p99 SLO {slo.get('p99_ms', 0):g} ms, error budget {slo.get('error_budget', 0):.2%}, "
        f"headroom {capacity.get('headroom', 0):.0%}.",
        "",
        f"Source: {target.get('source', '')}",
        "",
    ]
    ramps = capacity.get("ramps", [])
    if ramps:
        out += ["### Saturation search", ""] + _knee_table(ramps) + [""]
        out += [f"- {r['label']}: {(r.get('knee') or {}).get('advice', '')}" for r in ramps] + [""]
    rows = capacity.get("projection", [])
    if rows:
        out += ["### Projection", "", "| quantity | value | unit | how | from |", "|---|---:|---|---|---|"]
        out += [
            f"| {r['quantity']} | {_fmt(r['value'])} | {r['unit']} | `{r['formula']}` | {r['from']} |" for r in rows
        ]
        out.append("")
    notes = capacity.get("notes", [])
    if notes:
        out += ["### Notes", ""] + [f"- {n}" for n in notes] + [""]
    out += ["### Assumptions", ""] + [f"- {a}" for a in capacity.get("assumptions", [])]
    out += [f"- {a}" for a in target.get("assumptions", [])]
    return "\n".join(out) + "\n"


def render(run_dir: Path) -> Section | None:
    """The capacity section of a run's report, or None when the run has no capacity.json."""
    run_dir = Path(run_dir)
    capacity = load_capacity(run_dir)
    if capacity is None:
        return None
    figures = []
    plot = plot_ramps(capacity, run_dir)
    if plot is not None:
        figures.append(plot)
    return Section(
        title="How much hardware survives the storm? (capacity)", markdown=markdown(capacity), figures=figures
    )
