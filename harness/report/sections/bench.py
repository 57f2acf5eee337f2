"""Report section for benchmark.json: throughput, speedups, thread scaling, history."""

from __future__ import annotations

import json
from pathlib import Path

from hongbao.harness.report import plots
from hongbao.harness.report.section import Section
from hongbao.harness.results import UnusableInput, parse_benchmarks, saved_runs, short_name

TITLE = "Kernel benchmarks (is it fast enough?)"


def rows_of(doc: dict) -> list[dict]:
    """One flat dict per kernel benchmark: extra_info plus id and median seconds."""
    out = []
    for b in doc.get("benchmarks", []):
        extra = b.get("extra_info") or {}
        if "shares_per_second" not in extra or "algorithm" not in extra:
            continue
        out.append(
            {
                **extra,
                "id": short_name(b["name"]),
                "median_s": b["stats"]["median"],
                "round_seconds": b["stats"].get("data"),
            }
        )
    return out


def _f(value, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


def headline(rows: list[dict]) -> list[str]:
    """The count = 10 table: the issue's figures for every algorithm."""
    lines = [
        "| algorithm | impl | batch (envelopes) | shares/s | x pure Python | fraction of RNG limit "
        "| parallel speedup | compile s (1st call) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(rows, key=lambda r: (r["algorithm"], r["impl"], -r.get("threads", 0), r["envelopes"])):
        if r["count"] != 10:
            continue
        impl = f"parallel ({r.get('threads')} thr)" if r["impl"] == "parallel" else r["impl"]
        lines.append(
            f"| {r['algorithm']} | {impl} | {r['envelopes']:,} | {r['shares_per_second']:,.0f} | "
            f"{_f(r.get('speedup_vs_python'), '.1f')} | {_f(r.get('fraction_of_rng_limit'), '.3f')} | "
            f"{_f(r.get('parallel_speedup'), '.2f')} | {_f(r.get('compile_seconds'), '.2f')} |"
        )
    return lines


#: Issue 2's targets for double_mean at count 10: (figure, label, minimum)
TARGETS = (
    ("speedup_vs_python", "Numba serial vs the fastest pure-Python version", 100.0, "serial"),
    ("fraction_of_rng_limit", "Numba serial vs numpy's float64 fill rate", 0.5, "serial"),
    ("parallel_speedup", "parallel (2 threads) vs serial", 1.7, "parallel"),
)


def targets(rows: list[dict]) -> list[str]:
    """double_mean, count 10, largest batch: each target, the measured figure, met or missed."""
    cands = [r for r in rows if r["algorithm"] == "double_mean" and r["count"] == 10]
    if not cands:
        return []
    n = max(r["envelopes"] for r in cands if r["impl"] != "python")
    lines = [
        f"double_mean, count 10, {n:,} envelopes per batch:",
        "",
        "| target | measured | minimum | |",
        "|---|---:|---:|---|",
    ]
    for key, label, minimum, impl in TARGETS:
        match = [
            r
            for r in cands
            if r["impl"] == impl
            and r["envelopes"] == n
            and key in r
            and (impl != "parallel" or r.get("threads", 0) >= 2)
        ]
        if match:
            value = match[0][key]
            spread = match[0].get("parallel_speedup_quartiles") if key == "parallel_speedup" else None
            shown = f"{value:.2f}" + (f" (quartiles {spread[0]:.2f}-{spread[1]:.2f})" if spread else "")
            lines.append(f"| {label} | {shown} | {minimum:g} | {'met' if value >= minimum else '**missed**'} |")
    return lines + [""]


def yours(rows: list[dict]) -> list[str]:
    """A line naming the user's allocator (``hongbao bench --callable``) when the run timed one."""
    specs = sorted({r["callable"] for r in rows if r.get("impl") == "callable" and r.get("callable")})
    if not specs:
        return []
    return [
        f"Rows with impl *callable* are your allocator ({', '.join(f'`{s}`' for s in specs)}), timed "
        "like the pure-Python baselines (same counts, totals, clock and RNG control); its *x pure Python* "
        "is against the stdlib double_mean baseline at the same count.",
        "",
    ]


def _vs_base(r: dict) -> str:
    """'1.004 (0.98-1.02)': median and quartiles of the per-round ratios to the --base-ref kernels."""
    if r.get("vs_base") is None:
        return ""
    q = r.get("vs_base_quartiles") or [None, None]
    return f"{r['vs_base']:.3f} ({_f(q[0], '.2f')}-{_f(q[1], '.2f')})"


def all_rows_table(rows: list[dict]) -> list[str]:
    commits = sorted({r["base_commit"][:12] for r in rows if r.get("base_commit")})
    head = "| benchmark | median ms | shares/s | x Python | RNG fraction | clock |"
    rule = "|---|---:|---:|---:|---:|---|"
    if commits:
        head += f" time / base ({', '.join(commits)}), same run |"
        rule += "---:|"
    lines = [head, rule]
    for r in rows:
        lines.append(
            f"| {r['id']} | {r['median_s'] * 1e3:.3f} | {r['shares_per_second']:,.0f} | "
            f"{_f(r.get('speedup_vs_python'), '.1f')} | {_f(r.get('fraction_of_rng_limit'), '.3f')} | "
            f"{r.get('clock', '')} |" + (f" {_vs_base(r)} |" if commits else "")
        )
    return lines


def history_points(run_dir: Path, ids: list[str]) -> dict[str, list[tuple[str, float]]]:
    """fraction_of_rng_limit of the given benchmark ids in every saved run beside ``run_dir``."""
    points: dict[str, list[tuple[str, float]]] = {}
    for name, path in saved_runs(run_dir.parent):
        try:
            doc = json.loads(path.read_text())
            parse_benchmarks(doc, path)
        except (OSError, ValueError, UnusableInput):
            continue
        for r in rows_of(doc):
            if r["id"] in ids and r.get("fraction_of_rng_limit"):
                points.setdefault(r["id"], []).append((name, float(r["fraction_of_rng_limit"])))
    return points


def render(run_dir: Path) -> Section | None:
    """The benchmark section, or None when the run has no benchmark.json."""
    run_dir = Path(run_dir)
    path = run_dir / "benchmark.json"
    if not path.is_file():
        return None
    doc = json.loads(path.read_text())
    rows = rows_of(doc)
    if not rows:
        return None
    meta = doc.get("hongbao", {})
    cpu = (doc.get("machine_info") or {}).get("cpu", {}).get("brand_raw", "unknown CPU")
    figures = [
        p
        for p in (
            plots.throughput_vs_count(rows, run_dir / "bench_throughput.png"),
            plots.speedup_vs_python(rows, run_dir / "bench_speedup.png"),
            plots.thread_scaling(rows, run_dir / "bench_threads.png"),
            plots.paired_speedup_rounds(rows, run_dir / "bench_parallel_rounds.png"),
            plots.history(
                history_points(
                    run_dir, [r["id"] for r in rows if r["algorithm"] == "double_mean" and r["count"] == 10]
                ),
                run_dir / "bench_history.png",
                "share rate / numpy fill rate",
            ),
        )
        if p is not None
    ]
    md = (
        [
            f"Profile **{meta.get('profile', '?')}**, seed {meta.get('seed', '?')}, {len(rows)} kernel benchmarks "
            f"on {cpu} ({doc.get('datetime', '')}). Single-threaded cases are timed in thread CPU time, parallel "
            "ones in wall time; *fraction of RNG limit* = share rate / the rate at which numpy's default "
            "Generator fills float64 values, measured round by round in the same run. *Parallel speedup*: each "
            "parallel round is paired with a serial run of the same batch just before it, on the wall clock; "
            "the figure is the median of the per-round ratios."
            + (
                f" Load average at the end: {meta['load_average_1m_at_end']:.1f} on {meta.get('cpu_count')} CPUs"
                " (wall-clock parallel figures mean little when it exceeds the CPU count)."
                if "load_average_1m_at_end" in meta
                else ""
            ),
            "",
            "### count = 10",
            "",
        ]
        + targets(rows)
        + yours(rows)
        + headline(rows)
        + ["", "<details><summary>All benchmarks</summary>", ""]
        + all_rows_table(rows)
        + ["", "</details>", ""]
    )
    return Section(TITLE, "\n".join(md), figures=figures)
