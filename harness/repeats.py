"""The benchmark suites run K times, each time in a fresh process, and one document made from them.

A compiled kernel's speed depends on where its machine code and data land in memory, and one
process is one sample of that placement however many rounds it times (Curtsinger and Berger,
ASPLOS 2013; Kalibera and Jones, ISMM 2013: repeat at the level where the variance lives). With
identical kernels on both sides of ``--base-ref``, one process read naive -5% to -8% and equal
+10.7% where the processes before it read within 1.3% (2 vCPUs, load 4, 2026-11-30).
``hongbao bench --processes K`` therefore runs the suites in K child processes one after another,
alternating which side each loads and times first (``--hongbao-first base|new``), and merges them:
each benchmark is taken whole from the process with the median figure, and every process's figure
is kept in ``extra_info``: ``repeat_gated_medians`` (RNG fills per share) and, with a base ref,
``repeat_vs_base`` (the median per-round ratio new / base of that process). ``hongbao compare``
judges base pairs across those processes, and uses the spread of the gated medians as the
between-run spread of cross-run comparisons.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.console import Console

from hongbao.harness import stats
from hongbao.harness.bench import gated_median
from hongbao.harness.results import Run, short_name

SIDES = ("base", "new")
#: Fresh processes `hongbao bench --base-ref` runs unless told otherwise: the gate's calibrated form
#: (0 false alarms in 20 A/A runs, 5% and 10% plants caught 20 of 20, with --confirm 2).
GATE_PROCESSES = 5
ONCE = "score_matrix"  # benchmarks (by -k name) that only the first process runs


def figure(b: dict) -> float:
    """What a repeat is ranked by: its median ratio to the base commit, else its gated median."""
    extra = b.get("extra_info") or {}
    return float(extra["vs_base"]) if "vs_base" in extra else gated_median(b)


def merge(docs: list[dict]) -> dict:
    """One pytest-benchmark document from N repeats of the same suites: each benchmark entry is
    taken whole (raw samples and all) from the repeat whose figure is the median of the N, with
    every repeat's figures beside it.

    Used for baselines and for the gate: a load burst or an unlucky placement in one repeat can
    make the picked figure neither lucky nor unlucky, and the spread of the N is recorded."""
    out = dict(docs[0])
    picked = []
    for entry in docs[0]["benchmarks"]:
        same = [b for d in docs for b in d["benchmarks"] if b["name"] == entry["name"]]
        ranked = sorted(range(len(same)), key=lambda i: figure(same[i]))
        k = ranked[len(ranked) // 2]
        chosen = dict(same[k])
        extra = {
            **chosen.get("extra_info", {}),
            "picked_from_repeat": k + 1,
            "repeats": len(same),
            "repeat_gated_medians": [gated_median(b) for b in same],
        }
        if all("vs_base" in (b.get("extra_info") or {}) for b in same):
            extra["repeat_vs_base"] = [float(b["extra_info"]["vs_base"]) for b in same]
            extra["repeat_first"] = [
                (d.get("hongbao") or {}).get("first", "base")
                for d in docs
                if any(b["name"] == entry["name"] for b in d["benchmarks"])
            ]
        chosen["extra_info"] = extra
        picked.append(chosen)
    out["benchmarks"] = picked
    out.setdefault("hongbao", {})["repeats"] = len(docs)
    return out


def implementation(name: str) -> str:
    """The spread group of a benchmark id: its implementation ("python", "serial", "parallel")."""
    parts = short_name(name).split("-")
    return parts[1] if len(parts) > 1 else ""


def between_run_spread(runs: list[Run]) -> dict[str, tuple[float, float]]:
    """(pooled log standard deviation, degrees of freedom) per implementation, from the per-process
    figures (``repeat_gated_medians``) the runs recorded; implementations without any left out."""
    groups: dict[str, list[list[float]]] = {}
    for run in runs:
        for name, b in run.benchmarks.items():
            values = b.extra.get("repeat_gated_medians")
            if isinstance(values, list) and len(values) >= 2:
                groups.setdefault(implementation(name), []).append([float(v) for v in values])
    out = {}
    for impl, g in groups.items():
        sd, df = stats.pooled_log_sd(g)
        if df:
            out[impl] = (sd, df)
    return out


def run_figure(b) -> tuple[float, int]:
    """(the figure of a run: median of its processes' gated medians, how many processes)."""
    values = b.extra.get("repeat_gated_medians")
    if isinstance(values, list) and len(values) >= 2:
        return float(np.median(values)), len(values)
    return float(np.median(b.gated_samples())), 1


def min_rounds_per_process(profile_min_rounds: int, processes: int) -> int:
    """Each of K processes times at least twice the profile's rounds over K (and at least 5): the
    processes, not the rounds, carry the verdict, and the gate must fit CI's minutes."""
    return max(5, -(-2 * profile_min_rounds // processes))


def child_command(
    *,
    profile: str,
    out_dir: Path,
    filter_expr: str | None,
    seed: int,
    impl_module: str,
    max_time_s: float | None,
    base_ref: str | None,
    first: str,
    min_rounds: int | None = None,
    impl_ref: str | None = None,
) -> list[str]:
    """The command line of one repeat: this module's ``main`` in a fresh interpreter."""
    spec = {
        "profile": profile,
        "out_dir": str(out_dir),
        "filter_expr": filter_expr,
        "seed": seed,
        "impl_module": impl_module,
        "max_time_s": max_time_s,
        "base_ref": base_ref,
        "first": first,
        "min_rounds": min_rounds,
        "impl_ref": impl_ref,
    }
    return [sys.executable, "-m", "hongbao.harness.repeats", json.dumps(spec)]


def run_repeats(
    count: int,
    out: Path,
    console: Console | None,
    *,
    timeout_s: float = 1800,
    on_done: Callable[[int], None] | None = None,
    **spec,
) -> list[Path]:
    """Run the suites ``count`` times, each in its own process, into ``out/repeat-K/``; the first
    side alternates (base, new, base, ...). Returns the benchmark.json paths; RuntimeError naming
    the repeat when one fails. With ``console`` None the processes' output goes to
    ``out/repeat-K/log.txt`` instead of the terminal, and ``on_done(k)`` follows each process."""
    paths = []
    for k in range(1, count + 1):
        where = out / f"repeat-{k}"
        where.mkdir(parents=True, exist_ok=True)
        first = SIDES[(k - 1) % 2]
        if console is not None:
            console.print(
                f"process {k}/{count}" + (f" ({first} first)" if spec.get("base_ref") else "") + f" -> {where}",
                highlight=False,
            )
        child = dict(spec)
        if child.get("min_rounds") is None:
            from hongbao.harness.bench import PROFILES

            child["min_rounds"] = min_rounds_per_process(PROFILES[spec["profile"]].min_rounds, count)
        if k > 1:  # the fairness-metrics benchmark is not paired or gated: timed once, not K times
            flt = spec.get("filter_expr")
            child["filter_expr"] = f"({flt}) and not {ONCE}" if flt else f"not {ONCE}"
        if console is None:
            with (where / "log.txt").open("w") as log:
                done = subprocess.run(
                    child_command(out_dir=where, first=first, **child), timeout=timeout_s, stdout=log, stderr=log
                )
        else:
            done = subprocess.run(child_command(out_dir=where, first=first, **child), timeout=timeout_s)
        json_path = where / "benchmark.json"
        if done.returncode == 5:
            raise LookupError(f"--filter {spec.get('filter_expr')!r} selects no benchmark")
        if done.returncode != 0 or not json_path.is_file():
            raise RuntimeError(
                f"benchmark process {k} failed (exit {done.returncode}); nothing usable written"
                + (f" (see {where / 'log.txt'})" if console is None else "")
            )
        paths.append(json_path)
        if on_done is not None:
            on_done(k)
    return paths


def main(argv: list[str]) -> int:
    """A child: run the suites once as ``spec`` (JSON) says, with a progress bar on stderr."""
    from hongbao.harness.runner import run_suites

    spec = json.loads(argv[0])
    spec["out_dir"] = Path(spec["out_dir"])
    console = Console(stderr=True, soft_wrap=True)
    outcome = run_suites(console=console, **spec)
    for nodeid, text in outcome.failures:
        console.print(f"[red]FAILED {nodeid}[/red]\n{text}")
    return outcome.exit_code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
