"""Matplotlib figures for the benchmark section, each saved as a PNG in the run folder."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

IMPL_STYLE = {
    "python": ("pure Python (stdlib random)", "tab:gray", "o"),
    "serial": ("Numba serial", "tab:blue", "s"),
    "parallel": ("Numba parallel", "tab:orange", "^"),
}


def _main(r: dict) -> bool:
    """Leave out the 1-thread parallel cases (they belong to the thread-scaling plot)."""
    return not (r["impl"] == "parallel" and r.get("threads") == 1)


def save(fig, path: Path, dpi: int = 90) -> Path:
    """Write ``fig`` as a PNG whose canvas holds every title, label and legend whole: the bounding
    box grows to what was drawn, so a title wider than its axes is not cut at the figure's edge."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi, bbox_inches="tight", pad_inches=0.15)
    plt.close(fig)
    return path


def throughput_vs_count(rows: list[dict], path: Path) -> Path | None:
    """One panel per algorithm: shares/s against count, a line per implementation (largest batch)."""
    algos = sorted({r["algorithm"] for r in rows})
    if not algos:
        return None
    fig, axes = plt.subplots(1, len(algos), figsize=(3.2 * len(algos), 3.2), sharey=True, squeeze=False)
    for ax, algo in zip(axes[0], algos, strict=True):
        for impl, (label, color, marker) in IMPL_STYLE.items():
            pts: dict[int, dict] = {}
            for r in rows:
                if r["algorithm"] == algo and r["impl"] == impl and _main(r):
                    if r["count"] not in pts or r["envelopes"] > pts[r["count"]]["envelopes"]:
                        pts[r["count"]] = r
            if pts:
                xs = sorted(pts)
                ax.plot(xs, [pts[x]["shares_per_second"] for x in xs], marker=marker, color=color, label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(algo)
        ax.set_xlabel("count (people per envelope)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("shares per second")
    axes[0][0].legend(fontsize=7)
    return save(fig, path)


def speedup_vs_python(rows: list[dict], path: Path) -> Path | None:
    """Grouped bars: speedup over the fastest pure-Python version, per algorithm and count."""
    pts = [r for r in rows if r["impl"] in ("serial", "parallel") and r.get("speedup_vs_python") and _main(r)]
    if not pts:
        return None
    counts = sorted({r["count"] for r in pts})
    algos = sorted({r["algorithm"] for r in pts})
    fig, axes = plt.subplots(1, len(counts), figsize=(3.4 * len(counts), 3.2), sharey=True, squeeze=False)
    for ax, count in zip(axes[0], counts, strict=True):
        for k, impl in enumerate(("serial", "parallel")):
            vals = []
            for algo in algos:
                cand = [r for r in pts if r["algorithm"] == algo and r["count"] == count and r["impl"] == impl]
                vals.append(max((r["speedup_vs_python"] for r in cand), default=0.0))
            xs = [i + 0.4 * k for i in range(len(algos))]
            ax.bar(xs, vals, width=0.4, color=IMPL_STYLE[impl][1], label=IMPL_STYLE[impl][0])
        ax.axhline(1.0, color="black", lw=0.8)
        ax.set_yscale("log")
        ax.set_xticks([i + 0.2 for i in range(len(algos))], algos, rotation=45, ha="right", fontsize=8)
        ax.set_title(f"count = {count}")
    axes[0][0].set_ylabel("x faster than pure Python")
    axes[0][0].legend(fontsize=7)
    return save(fig, path)


def thread_scaling(rows: list[dict], path: Path) -> Path | None:
    """shares/s of the parallel kernel with 1 and 2 Numba threads, beside the serial kernel."""
    keys = sorted(
        {
            (r["algorithm"], r["count"], r["envelopes"])
            for r in rows
            if r["impl"] == "parallel" and r.get("threads") == 1
        }
    )
    if not keys:
        return None
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(keys) + 1), 3.2))
    series = (
        ("serial", None, "Numba serial"),
        ("parallel", 1, "parallel, 1 thread"),
        ("parallel", 2, "parallel, 2 threads"),
    )
    for k, (impl, threads, label) in enumerate(series):
        vals = []
        for algo, count, n in keys:
            match = [
                r
                for r in rows
                if (r["algorithm"], r["count"], r["envelopes"]) == (algo, count, n)
                and r["impl"] == impl
                and (threads is None or r.get("threads") == threads)
            ]
            vals.append(match[0]["shares_per_second"] if match else 0.0)
        ax.bar(
            [i + 0.27 * k for i in range(len(keys))],
            vals,
            width=0.27,
            label=label,
            color=("tab:blue", "tab:olive", "tab:orange")[k],
        )
    ax.set_xticks([i + 0.27 for i in range(len(keys))], [f"{a}\nc{c} n{n}" for a, c, n in keys], fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("shares per second")
    ax.set_title("thread scaling (numba.set_num_threads)")
    ax.legend(fontsize=7)
    return save(fig, path)


def paired_speedup_rounds(rows: list[dict], path: Path) -> Path | None:
    """Per-round parallel speedup (each round over the serial run paired with it) at count 10, the
    largest batch, one line per algorithm: a shared machine's slow and fast spells show as steps."""
    cands = [
        r
        for r in rows
        if r["impl"] == "parallel"
        and r.get("threads", 0) >= 2
        and r["count"] == 10
        and r.get("paired_serial_seconds_samples")
        and r.get("round_seconds")
    ]
    if not cands:
        return None
    n = max(r["envelopes"] for r in cands)
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    for r in sorted((r for r in cands if r["envelopes"] == n), key=lambda r: r["algorithm"]):
        ratios = [s / p for s, p in zip(r["paired_serial_seconds_samples"], r["round_seconds"], strict=True)]
        ax.plot(
            range(1, len(ratios) + 1),
            ratios,
            lw=0.9,
            marker=".",
            ms=3,
            label=f"{r['algorithm']} (median {r['parallel_speedup']:.2f})",
        )
    threads = max(r["threads"] for r in cands)
    ax.axhline(threads, color="black", lw=0.8, ls="--", label=f"{threads} threads, ideal")
    ax.axhline(1.0, color="gray", lw=0.8)
    ax.set_xlabel("timed round (in order)")
    ax.set_ylabel("serial time / parallel time")
    ax.set_title(f"parallel speedup round by round (count 10, {n:,} envelopes)", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return save(fig, path)


def history(points: dict[str, list[tuple[str, float]]], path: Path, ylabel: str) -> Path | None:
    """A line per series over saved runs (x = run folder names, oldest first)."""
    if not points or max(len(v) for v in points.values()) < 2:
        return None
    runs = sorted({run for series in points.values() for run, _ in series})
    fig, ax = plt.subplots(figsize=(max(5.0, 0.5 * len(runs) + 3), 3.4))
    for label, series in sorted(points.items()):
        d = dict(series)
        xs = [i for i, run in enumerate(runs) if run in d]
        ax.plot(xs, [d[runs[i]] for i in xs], marker="o", label=label)
    ax.set_xticks(range(len(runs)), runs, rotation=45, ha="right", fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.set_title("history across saved runs (results/*/benchmark.json)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return save(fig, path)


def ratio_history(
    series: dict[str, list[tuple[int, float, float, float]]],
    commits: list[str],
    path: Path,
    marked: str | None = None,
    columns: int = 4,
) -> Path | None:
    """One small plot per case: its ratio to the base commit's kernels (point) and interval (bar) at
    each commit, x in commit order (``commits``, short ids); ``marked`` (a commit in ``commits``) gets
    a red line. ``series[case]`` holds (commit position, ratio, low, high) per saved run."""
    if not series or len(commits) < 2:
        return None
    cases = sorted(series)
    rows = -(-len(cases) // columns)
    fig, axes = plt.subplots(
        rows,
        min(columns, len(cases)),
        figsize=(3.2 * min(columns, len(cases)), 2.3 * rows + 0.6),
        sharex=True,
        squeeze=False,
    )
    for ax in axes.flat[len(cases) :]:
        ax.set_visible(False)
    # the grid may hold more axes than cases (the spares are hidden above)
    for ax, case in zip(axes.flat, cases, strict=False):
        pts = series[case]
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        err = [[p[1] - p[2] for p in pts], [p[3] - p[1] for p in pts]]
        ax.errorbar(xs, ys, yerr=err, fmt="o-", ms=3, lw=1, capsize=2, color="tab:blue")
        ax.axhline(1.0, color="gray", lw=0.8)
        if marked in commits:
            ax.axvline(commits.index(marked), color="tab:red", lw=1.2, ls="--")
        ax.set_title(case, fontsize=7)
        ax.tick_params(labelsize=6)
        ax.grid(True, alpha=0.3)
    for ax in axes[-1]:
        ax.set_xticks(range(len(commits)), commits, rotation=60, ha="right", fontsize=6)
    fig.suptitle(
        "time / base commit's kernels by commit (interval: the gate's)"
        + (f"; red: {marked}, named by hongbao bisect" if marked in commits else ""),
        fontsize=9,
    )
    return save(fig, path)
