"""``python -m hongbao.harness.calibrate``: the regression gate's false-alarm and detection rates.

Run from the repository root (the planted slowdowns live in tests/support). Series, each run in
``OUT/<series>/run-<i>/``; a run whose ``verdict.json`` exists is not run again, so an interrupted
calibration resumes where it stopped:

- ``aa``: CI's gate on unchanged code: ``hongbao bench --base-ref REF --processes K`` then
  ``hongbao compare BASELINE RUN --confirm C``. Exit 1 is a false alarm.
- ``slow5``, ``slow10``: the same with ``--impl-module tests.support.slowed_kernel_5`` (``_10``):
  the working kernels plus re-splitting 5% (10%) of each batch. Exit 1 is a detection.
- ``cross``: two plain ``hongbao bench`` runs, then ``hongbao compare A B`` (exit 0 wanted).
- ``default``: the gate with only the flags a user types by default, ``hongbao bench --base-ref REF``
  (no --processes: whatever the command defaults to) then ``hongbao compare BASELINE RUN
  --thresholds T --confirm C`` on unchanged code. Exit 1 is a false alarm; 5 (undecided) is allowed.

The planted slowdowns' real sizes are measured first, not assumed: each serial case's batch is
split by the working kernels and by the slowed module alternately in this process (the same
machine code on both sides, so no placement between them), on the thread's CPU clock; the figure
is the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from hongbao.harness import bench
from hongbao.harness import compare as cmp
from hongbao.harness.results import UnusableInput, load_run, short_name
from hongbao.seeds import seed_file

SLOWED = {"slow5": "tests.support.slowed_kernel_5", "slow10": "tests.support.slowed_kernel_10"}
SERIES = ("aa", "slow5", "slow10", "cross", "default")


def measure_planted(module_name: str, profile: str = "quick", rounds: int = 31, seed: int = 2026) -> dict[str, float]:
    """{serial case id: median per-round time ratio slowed / working kernels} for a slowed module."""
    from hongbao import kernels

    slowed = importlib.import_module(module_name)
    out = {}
    for case in bench.cases(bench.PROFILES[profile]):
        if case.impl != bench.SERIAL:
            continue
        totals = bench.batch_totals_cents(case.count, case.envelopes, seed)
        buf = np.empty((case.envelopes, case.count), dtype=np.int64)
        sides = [
            functools.partial(
                m.split_batch,
                totals,
                case.count,
                algorithm=case.algorithm,
                min_cents=1,
                seed=seed,
                parallel=False,
                out=buf,
            )
            for m in (kernels, slowed)
        ]
        times: list[list[float]] = [[], []]
        for side in sides:
            side()  # warm
        for r in range(rounds):
            for i in (0, 1) if r % 2 == 0 else (1, 0):
                t0 = time.thread_time()
                sides[i]()
                times[i].append(time.thread_time() - t0)
        out[case.id] = float(np.median(np.asarray(times[1]) / np.asarray(times[0])))
    return out


def _hongbao(args: list[str], log: Path) -> int:
    with log.open("a") as fh:
        return subprocess.run([sys.executable, "-m", "hongbao.harness.cli", *args], stdout=fh, stderr=fh).returncode


def one_run(series: str, where: Path, opts: argparse.Namespace) -> dict:
    """Bench and compare once as ``series`` says; the verdict record (also written to verdict.json)."""
    where.mkdir(parents=True, exist_ok=True)
    log = where / "log.txt"
    common = ["--profile", opts.profile, *(["--filter", opts.filter] if opts.filter else [])]
    t0 = time.perf_counter()
    if series == "cross":
        for side in ("a", "b"):
            if _hongbao(["bench", *common, "--out", str(where / side)], log) != 0:
                raise RuntimeError(f"bench failed, see {log}")
        base, new = where / "a", where / "b"
    else:
        extra = ["--impl-module", SLOWED[series]] if series in SLOWED else []
        processes = [] if series == "default" else ["--processes", str(opts.processes)]
        run = ["bench", *common, "--base-ref", opts.base_ref, *processes, *extra]
        if _hongbao([*run, "--out", str(where / "new")], log) != 0:
            raise RuntimeError(f"bench failed, see {log}")
        base, new = opts.baseline, where / "new"
    bench_s = time.perf_counter() - t0
    flags = ["--thresholds", str(opts.thresholds)] + (["--confirm", str(opts.confirm)] if series != "cross" else [])
    code = _hongbao(["compare", str(base), str(new), *flags], where / "compare.txt")
    defaults, rules = cmp.load_thresholds(opts.thresholds)
    result = cmp.compare_runs(load_run(base), load_run(new), cmp.base_thresholds(defaults), rules)
    record = {
        "series": series,
        "exit": code,
        "bench_seconds": bench_s,
        "seconds": time.perf_counter() - t0,
        "load_average_1m": os.getloadavg()[0],
        "rows": {
            short_name(r.name): {"change": r.diff.change, "verdict": r.verdict, "judged": r.judged} for r in result.rows
        },
    }
    (where / "verdict.json").write_text(json.dumps(record, indent=2))
    return record


def summary(records: dict[str, list[dict]], planted: dict[str, dict[str, float]]) -> Table:
    """One line per series: exits, the rate that matters, and the serial cases' changes."""
    t = Table(title="gate calibration")
    for col in (
        "series",
        "runs",
        "exit 0 / 1 / 5",
        "rate",
        "serial cases: median change (min..max)",
        "planted (measured)",
        "load 1m",
    ):
        t.add_column(col)
    for series, recs in records.items():
        if not recs:
            continue
        n = len(recs)
        exits = [r["exit"] for r in recs]
        counts = f"{exits.count(0)} / {exits.count(1)} / {exits.count(5)}"
        rate = (
            f"caught {exits.count(1)}/{n}"
            if series in SLOWED
            else f"false alarms {exits.count(1)}/{n}" + (f", clean {exits.count(0)}/{n}" if series == "cross" else "")
        )
        changes = [row["change"] for r in recs for name, row in r["rows"].items() if "-serial-" in name]
        per_run = [
            float(np.median([row["change"] for name, row in r["rows"].items() if "-serial-" in name]))
            for r in recs
            if any("-serial-" in name for name in r["rows"])
        ]
        spread = f"{np.median(per_run):+.1%} ({min(changes):+.1%}..{max(changes):+.1%})" if changes else ""
        sizes = planted.get(series)
        size = (
            f"{np.median(list(sizes.values())) - 1:+.1%} "
            f"({min(sizes.values()) - 1:+.1%}..{max(sizes.values()) - 1:+.1%})"
            if sizes
            else ""
        )
        loads = [r["load_average_1m"] for r in recs]
        t.add_row(series, str(n), counts, rate, spread, size, f"{min(loads):.1f}-{max(loads):.1f}")
    return t


def per_case(records: list[dict], sizes: dict[str, float]) -> Table:
    """For a planted series: each serial case's measured size, how often the gate's first pass
    called it a REGRESSION, and its median change as the gate read it."""
    t = Table(title="planted slowdown by case (first pass, before --confirm)")
    for col in ("case", "planted (measured)", "REGRESSION in", "gate read (median)"):
        t.add_column(col)
    for name in sorted(sizes, key=sizes.__getitem__):
        rows = [r["rows"][name] for r in records if name in r["rows"]]
        if not rows:
            continue
        hits = sum(row["verdict"] == cmp.REGRESSION for row in rows)
        t.add_row(
            name, f"{sizes[name] - 1:+.1%}", f"{hits}/{len(rows)}", f"{np.median([row['change'] for row in rows]):+.1%}"
        )
    return t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hongbao.harness.calibrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per series (default 20)")
    parser.add_argument(
        "--series",
        default=",".join(SERIES[:4]),
        help=f"comma-separated, of {', '.join(SERIES)} (default: all but `default`)",
    )
    parser.add_argument(
        "--processes", type=int, default=5, help="K of `hongbao bench --processes K` (default 5, as CI)"
    )
    parser.add_argument("--profile", default="quick", choices=sorted(bench.PROFILES))
    parser.add_argument("--filter", default=None, metavar="EXPR", help='benchmark filter, e.g. "serial"')
    parser.add_argument("--base-ref", default="HEAD", help="the unchanged code's commit (default HEAD)")
    parser.add_argument("--baseline", type=Path, default=Path("results/baseline"), help="BASE of the paired series")
    parser.add_argument("--thresholds", type=Path, default=seed_file("thresholds.toml"))
    parser.add_argument("--confirm", type=int, default=2, help="--confirm of the paired series (default 2, as CI)")
    parser.add_argument("--out", type=Path, default=Path("results/calibration"), help="where runs are kept (resumable)")
    opts = parser.parse_args(argv)
    console = Console(stderr=True, soft_wrap=True)
    chosen = [s.strip() for s in opts.series.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SERIES]
    if unknown or opts.runs < 1 or opts.processes < 2:
        console.print(
            f"[red]--series must name {', '.join(SERIES)} (got {unknown}); --runs >= 1; --processes >= 2[/red]"
        )
        return 2
    if any(s in SLOWED for s in chosen) and not Path("tests/support/slowed_kernel_5.py").is_file():
        console.print("[red]run from the repository root: the planted slowdowns are in tests/support[/red]")
        return 2
    sys.path.insert(0, os.getcwd())
    planted = {}
    for s in chosen:
        if s in SLOWED:
            console.print(f"measuring the planted slowdown of {SLOWED[s]} ...")
            planted[s] = measure_planted(SLOWED[s], opts.profile)
    (opts.out).mkdir(parents=True, exist_ok=True)
    (opts.out / "planted.json").write_text(json.dumps(planted, indent=2))
    records: dict[str, list[dict]] = {s: [] for s in chosen}
    for i in range(1, opts.runs + 1):  # series interleaved run by run: a slow hour falls on all of them
        for s in chosen:
            where = opts.out / s / f"run-{i}"
            done = where / "verdict.json"
            try:
                record = json.loads(done.read_text()) if done.is_file() else one_run(s, where, opts)
            except (RuntimeError, UnusableInput) as exc:
                console.print(f"[red]{s} run {i}: {exc}[/red]", highlight=False)
                return 2
            records[s].append(record)
            console.print(
                f"{s} run {i}/{opts.runs}: exit {record['exit']} in {record['seconds']:.0f} s "
                f"(load {record['load_average_1m']:.1f})",
                highlight=False,
            )
    out = Console(soft_wrap=True, width=200)
    out.print(summary(records, planted))
    for s in chosen:
        if s in planted and records[s]:
            out.print(per_case(records[s], planted[s]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
