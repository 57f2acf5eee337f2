"""``hongbao bench``: run the kernel benchmark suites and write pytest-benchmark's JSON."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from rich.console import Console

from hongbao.harness import bench, durations, repeats
from hongbao.harness.rundirs import default_run_dir
from hongbao.loadtests.exitcodes import Exit

CALLABLE_ENV = "HONGBAO_BENCH_CALLABLE"
HELP = "run the kernel benchmark suites (pytest-benchmark JSON with the kit's ratios)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run the kernel benchmark suites (harness/suites, pytest-benchmark): algorithm x implementation "
        "(pure-Python baseline, Numba serial, Numba parallel) x count x batch size. Writes "
        "OUT/benchmark.json in pytest-benchmark's own format, raw samples kept, with shares_per_second, "
        "speedup_vs_python, fraction_of_rng_limit, compile_seconds and parallel_speedup in extra_info. "
        "Each parallel round is paired with a serial run of the same batch just before it; "
        "parallel_speedup is the median of those per-round ratios."
    )
    parser.add_argument(
        "--profile",
        choices=sorted(bench.PROFILES),
        default="quick",
        help="quick (< 60 s on 2 cores, what CI gates on) or full (issue figures: "
        "10**6 envelopes, thread scaling for every algorithm; minutes)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="run folder to write benchmark.json into (default results/<UTC timestamp>/)",
    )
    parser.add_argument(
        "--filter",
        default=None,
        metavar="EXPR",
        help="pytest -k expression over benchmark ids such as "
        '"double_mean-serial-c10-n20000", e.g. --filter "double_mean and c10-"',
    )
    parser.add_argument(
        "--max-time",
        type=durations.flag("--max-time"),
        default=None,
        metavar="S",
        help="seconds of timed rounds per benchmark, instead of the profile's (quick 0.1, "
        "full 0.5); at most 400 rounds. Longer runs average a shared machine's slow and "
        "fast spells, e.g. --max-time 8 for the parallel speedup",
    )
    parser.add_argument("--seed", type=int, default=2026, help="seed for envelope totals and RNGs (default 2026)")
    parser.add_argument(
        "--impl-module",
        default="hongbao.kernels",
        metavar="MODULE",
        help="benchmark this module's split_batch(...) instead of kernels' (same signature)",
    )
    parser.add_argument(
        "--base-ref",
        default=None,
        metavar="REF",
        help="git commit (sha, tag, branch) whose code is timed beside every case (its Numba "
        "kernels, its Python baselines), alternately before and after the new code in each "
        "round of the same process; `hongbao compare` then judges those cases on the "
        "per-round ratios new / base, which a shared host's slow and fast spells cannot move "
        "(across processes with --processes K). CI passes the baseline's commit",
    )
    parser.add_argument(
        "--processes",
        "--repeat",
        type=int,
        default=None,
        metavar="K",
        dest="processes",
        help="run the suites K times, each in a fresh process (OUT/repeat-K/), and write "
        "OUT/benchmark.json with each benchmark taken from the process with the median "
        "figure and every process's figure beside it. A process is one sample of where the "
        "machine code lands; with --base-ref the processes alternate which side goes first "
        "and `hongbao compare` judges across them; without it they record the between-run "
        f"spread a baseline needs. Default: {repeats.GATE_PROCESSES} with --base-ref (one "
        "process can only suspect a regression: its rounds cannot see its memory layout), "
        "else 1 (--repeat is the old name)",
    )
    parser.add_argument(
        "--callable",
        dest="callable_spec",
        default=None,
        metavar="MODULE:FUNCTION",
        help="also time your allocator f(total_cents, count) -> list[int] (as fairness --callable) "
        "at the profile's counts, beside the kernels, with the same figures; ids "
        'FUNCTION-callable-cN-nM, e.g. --filter "c10- and (double_mean or callable)"',
    )
    parser.add_argument("--verbose", action="store_true", help="show pytest's and pytest-benchmark's own output")


def run(args: argparse.Namespace) -> int:
    from hongbao.harness.runner import run_suites  # imports pytest; kept out of --help

    console = Console(stderr=True, soft_wrap=True)
    if args.processes is None:
        args.processes = repeats.GATE_PROCESSES if args.base_ref is not None else 1
    if args.processes < 1:
        console.print(f"[red]--processes must be >= 1 (got {args.processes})[/red]")
        return Exit.UNUSABLE
    if args.max_time is not None and not 0 < args.max_time <= 600:
        console.print(f"[red]--max-time must be > 0 and <= 600 seconds (got {args.max_time})[/red]")
        return Exit.UNUSABLE
    base_ref = None
    if args.base_ref is not None:
        from hongbao.harness import baseref
        from hongbao.harness.results import UnusableInput

        try:
            base_ref = baseref.resolve(args.base_ref)
            baseref.extract(base_ref)
            with console.status(f"compiling the working kernels and those at {base_ref[:12]} into Numba's cache"):
                baseref.prime_caches(["kernels", base_ref])
        except UnusableInput as exc:
            console.print(f"[red]{exc}[/red]", highlight=False)
            return Exit.UNUSABLE
    if args.callable_spec is not None:
        from hongbao.harness.fairness.allocator import load_callable

        try:
            load_callable(args.callable_spec)
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]", highlight=False)
            return Exit.UNUSABLE
        os.environ[CALLABLE_ENV] = args.callable_spec  # read by harness/suites/bench_callable.py
    else:
        os.environ.pop(CALLABLE_ENV, None)
    # every flag is checked before the run folder is made: a refused run writes nothing
    out = args.out or default_run_dir()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        console.print(f"[red]--out {out}: cannot create the folder ({exc})[/red]")
        return Exit.UNUSABLE
    spec = dict(
        profile=args.profile,
        filter_expr=args.filter,
        seed=args.seed,
        impl_module=args.impl_module,
        max_time_s=args.max_time,
        base_ref=base_ref,
    )
    json_path = out / "benchmark.json"
    t0 = time.perf_counter()
    if args.processes > 1:  # each a fresh process: one sample of the code's placement each
        try:
            paths = repeats.run_repeats(args.processes, out, console, **spec)
        except (LookupError, RuntimeError) as exc:
            console.print(f"[red]{exc}[/red]", highlight=False)
            return Exit.UNUSABLE
        docs = [json.loads(p.read_text()) for p in paths]
        merged = repeats.merge(docs)
        merged["hongbao"]["processes"] = args.processes
        json_path.write_text(json.dumps(merged, indent=4))
    else:
        outcome = run_suites(out_dir=out, verbose=args.verbose, console=console, **spec)
        for nodeid, text in outcome.failures:
            console.print(f"[red]FAILED {nodeid}[/red]\n{text}")
        if outcome.exit_code == 5:
            console.print(f"[red]--filter {args.filter!r} selects no benchmark[/red]")
            return Exit.UNUSABLE
        if outcome.exit_code != 0 or not outcome.json_path.exists():
            console.print(
                f"[red]benchmark suites failed (pytest exit {outcome.exit_code}); nothing usable written[/red]"
            )
            return Exit.UNUSABLE
        docs = [json.loads(outcome.json_path.read_text())]
    seconds = time.perf_counter() - t0
    console.print(f"[green]{len(docs[-1]['benchmarks'])} benchmarks in {seconds:.1f} s[/green] -> {json_path}")
    print(json_path)
    return Exit.OK
