"""``hongbao capacity``: saturation search (knees) and the hardware a target peak needs."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from hongbao.harness import durations
from hongbao.harness.capacity.ramp import DEFAULT_STEPS
from hongbao.harness.rundirs import default_run_dir
from hongbao.loadtests.exitcodes import Exit

HELP = "saturation search and capacity projection for a target peak"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from hongbao.harness.capacity.presets import preset_names

    parser.description = textwrap.fill(
        "Find the knee (the highest offered grabs/s answered within the p99 SLO, measured from each "
        "grab's intended start, and the error budget, with under 0.1% dropped) with a short step ramp of "
        "the offered arrival rate against the reference grab service (or --host), name what limited it "
        "(load generator, service, store, the whole machine), and project service cores/instances, "
        "Redis shards and memory per million open "
        "envelopes for a target peak. Writes capacity.json, capacity_latency.png, report.md and "
        "report.html into the run folder. Every assumption is listed in the report.",
        width=88,
    )
    parser.epilog = (
        "examples:\n"
        "  hongbao capacity --preset wechat-2017\n"
        "  hongbao capacity --target 760k/s --p99 200ms --headroom 30%\n"
        "  hongbao capacity --store memory --store redis://127.0.0.1:6379/0 --workers 1,2 --preset alipay-2017\n"
        "  hongbao capacity --from results/20261125T120000Z --preset wechat-2016   # re-project, no load\n"
        "  hongbao capacity --start-rate 500 --step-rate 500 --steps 8\n"
        "  hongbao capacity --host http://10.0.0.9:8000 --allow-remote-target --master --bind 10.0.0.5:5557 "
        "--expect-workers 8   # a fleet: hongbao worker --master 10.0.0.5:5557 --storms 0 on each machine\n"
        "  hongbao capacity --host http://127.0.0.1:9000 --adapter hongbao.loadtests.examples.yuan_adapter:YuanAdapter "
        "--metrics http://127.0.0.1:9000/metrics\n"
        f"presets (seeds/capacity/): {', '.join(preset_names())}\n"
        "exit codes: 0 OK, 2 bad input or nothing measurable"
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--target", metavar="RATE", help="peak grabs per second, e.g. 760000/s or 760k/s")
    target.add_argument(
        "--preset", metavar="NAME", help="a published peak from seeds/capacity/ (default wechat-2017: 760,000/s)"
    )
    parser.add_argument(
        "--p99",
        default="200ms",
        metavar="DURATION",
        help="p99 latency SLO a sustainable step must meet (default 200ms)",
    )
    parser.add_argument(
        "--errors",
        default="0.1%",
        metavar="PERCENT",
        help="error budget: failed requests / requests per step (default 0.1%%)",
    )
    parser.add_argument(
        "--headroom",
        default="30%",
        metavar="PERCENT",
        help="spare capacity at the peak: components run at most (1 - headroom) of their measured rate (default 30%%)",
    )
    parser.add_argument(
        "--cores-per-instance", type=int, default=16, metavar="N", help="cores of one service machine (default 16)"
    )
    parser.add_argument(
        "--store",
        action="append",
        metavar="URL",
        help="store of the stormed service, repeatable (one ramp each): memory (default) or "
        "redis://HOST:PORT/DB (also measures the grab script's rate per Redis core and "
        "MEMORY USAGE)",
    )
    parser.add_argument(
        "--workers",
        default="1",
        metavar="N[,N...]",
        help="service worker counts to ramp, e.g. 1,2 (more than 1 needs Redis; default 1); "
        "with --host: the processes the target runs (one count)",
    )
    from hongbao.harness.commands.storm import add_target_arguments

    add_target_arguments(parser)
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        metavar="N",
        help="Locust processes generating load (default 1; add more when the load generator is what saturates)",
    )
    from hongbao.harness.commands.storm import add_fleet_arguments

    add_fleet_arguments(parser)
    parser.add_argument(
        "--steps",
        type=int,
        default=DEFAULT_STEPS,
        metavar="N",
        help=f"ramp steps (default {DEFAULT_STEPS}; the ramp stops by itself at the knee)",
    )
    parser.add_argument(
        "--step-seconds",
        type=durations.flag("--step-seconds"),
        default=5.0,
        metavar="S",
        help="seconds per step, >= 3 (default 5; the first second of a step is not measured)",
    )
    parser.add_argument(
        "--start-rate",
        type=float,
        default=2000.0,
        metavar="GRABS/S",
        help="offered grabs per second in the first step (default 2000)",
    )
    parser.add_argument(
        "--step-rate",
        type=float,
        default=2000.0,
        metavar="GRABS/S",
        help="offered grabs per second added every step (default 2000)",
    )
    parser.add_argument(
        "--seed", type=int, default=3, metavar="S", help="seed of the ramp's storm and stores (default 3)"
    )
    parser.add_argument(
        "--from",
        dest="from_dir",
        type=Path,
        metavar="RUN_DIR",
        help="project from an earlier run folder instead of load-testing again: its "
        "capacity.json (knees and measurements), or the storm.json of a step-ramp storm "
        "(hongbao storm --scenario seeds/storms/ramp.toml); its benchmark.json gives the "
        "kernel cost",
    )
    parser.add_argument("--out", type=Path, metavar="DIR", help="run folder (default results/<UTC timestamp>/)")
    parser.add_argument("--no-report", action="store_true", help="write capacity.json only")


def _fail(msg: str) -> int:
    print(f"hongbao capacity: error: {msg}", file=sys.stderr)
    return int(Exit.UNUSABLE)


def parse_options(args: argparse.Namespace):
    """Options from the parsed flags; ValueError naming the flag on bad input."""
    from hongbao.harness.capacity import presets
    from hongbao.harness.capacity.plan import Options

    target = presets.resolve_target(args.target, args.preset)
    p99 = presets.parse_duration_ms(args.p99, "--p99")
    errors = presets.parse_fraction(args.errors, "--errors", upper=0.5)
    headroom = presets.parse_fraction(args.headroom, "--headroom")
    try:
        workers = sorted({int(w) for w in str(args.workers).split(",") if w.strip()})
    except ValueError:
        raise ValueError(f"--workers: expected counts such as 1 or 1,2 (got {args.workers!r})") from None
    if not workers or workers[0] < 1:
        raise ValueError(f"--workers: every count must be >= 1 (got {args.workers!r})")
    stores = list(dict.fromkeys(args.store or ["memory"]))
    for store in stores:
        if store != "memory" and not store.startswith("redis://"):
            raise ValueError(f"--store: memory or redis://HOST:PORT/DB (got {store!r})")
    if stores == ["memory"] and workers != [1]:
        raise ValueError("--workers: the memory store lives in one process; more workers need --store redis://...")
    for flag, value, low in (
        ("--cores-per-instance", args.cores_per_instance, 1),
        ("--processes", args.processes, 1),
        ("--steps", args.steps, 1),
        ("--start-rate", args.start_rate, 1),
        ("--step-rate", args.step_rate, 0),
        ("--seed", args.seed, 0),
    ):
        if value < low:
            raise ValueError(f"{flag}: must be >= {low} (got {value})")
    if args.step_seconds < 3:
        raise ValueError(
            f"--step-seconds: must be >= 3, so each step has whole seconds to measure "
            f"after its users spawn (got {args.step_seconds:g})"
        )
    from hongbao.harness.commands.storm import check_fleet_arguments, check_target_arguments

    host, metrics = check_target_arguments(args)
    bind = check_fleet_arguments(args, host)
    if host and (args.store or len(workers) > 1 or args.from_dir is not None):
        raise ValueError("--host ramps the running service it names: no --store, --from or several --workers with it")
    if args.from_dir is not None and not args.from_dir.is_dir():
        raise ValueError(f"--from: {args.from_dir} is not a run folder")
    return Options(
        target=target,
        p99_ms=p99,
        error_budget=errors,
        headroom=headroom,
        cores_per_instance=args.cores_per_instance,
        stores=stores,
        workers=workers,
        processes=args.processes,
        steps=args.steps,
        step_s=args.step_seconds,
        start_rate=args.start_rate,
        step_rate=args.step_rate,
        seed=args.seed,
        from_dir=args.from_dir,
        host=host,
        adapter=args.adapter,
        metrics=metrics,
        master=bind,
        expect_workers=args.expect_workers,
        workers_wait_s=args.workers_wait,
    )


def run(args: argparse.Namespace) -> int:
    try:
        opts = parse_options(args)
    except ValueError as exc:
        return _fail(str(exc))
    from rich.console import Console

    from hongbao.harness.capacity import plan, view

    console = Console(stderr=True)
    out = (args.out or default_run_dir()).resolve()
    try:
        with view.progress(console) as progress:
            doc = plan.build(opts, out, progress)
    except (RuntimeError, OSError, ValueError) as exc:
        return _fail(str(exc))
    view.print_capacity(console, doc)
    if not args.no_report:
        view.write_report(out, console)
    console.print(f"wrote {out / 'capacity.json'}")
    return int(Exit.OK)
