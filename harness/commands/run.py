"""``hongbao run``: the main job. Everything the kit does, on the embedded default (memory store, no
Redis), in one run folder with one report:

1. quick kernel benchmark      (hongbao bench --profile quick)
2. fairness scorecard          (hongbao fairness, fewer envelopes)
3. a short grab storm          (hongbao storm, the countdown scenario, ~20 s)
4. saturation ramp + capacity  (hongbao capacity, a short ramp, the wechat-2017 target)
5. report                      (report.md, report.html, summary.json)

Each stage runs as its own process (a crash in one cannot take the others down); a failed stage is
reported and the later stages still run. Exit 0 when every stage passed, else the first failure's code.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import textwrap
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from hongbao.harness import durations
from hongbao.harness.capacity.ramp import DEFAULT_STEPS
from hongbao.harness.rundirs import default_run_dir
from hongbao.loadtests.exitcodes import Exit

HELP = "the main job: quick benchmark, fairness, a short storm, capacity, one report"
STAGES = ("bench", "fairness", "storm", "capacity", "report")


@dataclass
class Stage:
    name: str
    title: str
    status: str = "skipped"  # ok | failed | skipped
    exit_code: int | None = None
    seconds: float = 0.0
    detail: str = ""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = textwrap.fill(
        "The main job, on the embedded default (memory store, no Redis): quick kernel benchmark, fairness "
        "scorecard, a short grab storm with its audit, a saturation ramp and capacity projection, then one "
        "report: OUT/report.html, OUT/report.md and OUT/summary.json. About 3-5 minutes on 2 cores. "
        "The flags below shrink or skip stages (for a quick look or a smoke test).",
        width=88,
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "examples:\n  hongbao run\n  hongbao run --out results/mine --seed 7\n"
        "  hongbao run --skip storm --skip capacity      # kernels and fairness only\n"
        "exit codes: 0 every stage passed; otherwise the first failed stage's code"
    )
    parser.add_argument("--out", type=Path, metavar="DIR", help="run folder (default results/<UTC timestamp>/)")
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        metavar="S",
        help="one seed for every stage (default: each stage's own seed from seeds/)",
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=STAGES[:-1],
        metavar="STAGE",
        help=f"skip a stage (repeatable): {', '.join(STAGES[:-1])}",
    )
    parser.add_argument(
        "--preset", default="wechat-2017", metavar="NAME", help="capacity target preset (default wechat-2017)"
    )
    parser.add_argument(
        "--storm-scenario",
        default="countdown",
        metavar="NAME|TOML",
        help="storm scenario: a shipped name or a TOML file (default countdown)",
    )
    parser.add_argument(
        "--storm-duration",
        type=durations.flag("--storm-duration"),
        default="20s",
        metavar="DURATION",
        help="storm length (default 20s)",
    )
    parser.add_argument(
        "--fairness-envelopes",
        type=int,
        default=20_000,
        metavar="N",
        help="envelopes per algorithm in the scorecard (default 20000)",
    )
    parser.add_argument(
        "--bench-filter",
        default=None,
        metavar="EXPR",
        help="pytest -k expression to run only some benchmarks (default: the whole quick profile)",
    )
    parser.add_argument(
        "--ramp-steps",
        type=int,
        default=DEFAULT_STEPS,
        metavar="N",
        help=f"saturation ramp steps (default {DEFAULT_STEPS}; the ramp stops by itself at the knee)",
    )
    parser.add_argument(
        "--step-seconds",
        type=durations.flag("--step-seconds"),
        default=5.0,
        metavar="S",
        help="seconds per ramp step, >= 3 (default 5)",
    )
    parser.add_argument(
        "--stage-timeout",
        type=durations.flag("--stage-timeout"),
        default=300.0,
        metavar="S",
        help="seconds after which a stage is stopped and marked failed (default 300)",
    )


def _command(name: str, args: argparse.Namespace, out: Path) -> list[str]:
    seed = [] if args.seed is None else ["--seed", str(args.seed)]
    base = [sys.executable, "-m", "hongbao.harness.cli", name]
    if name == "bench":
        return (
            base
            + ["--profile", "quick", "--out", str(out)]
            + seed
            + (["--filter", args.bench_filter] if args.bench_filter else [])
        )
    if name == "fairness":
        return base + ["--envelopes", str(args.fairness_envelopes), "--out", str(out)] + seed
    if name == "storm":
        return (
            base
            + ["--scenario", str(args.storm_scenario), "--duration", f"{args.storm_duration:g}", "--out", str(out)]
            + seed
        )
    if name == "capacity":
        return (
            base
            + [
                "--preset",
                args.preset,
                "--steps",
                str(args.ramp_steps),
                "--step-seconds",
                str(args.step_seconds),
                "--out",
                str(out),
                "--no-report",
            ]
            + seed
        )
    raise ValueError(name)


def _run_stage(stage: Stage, cmd: list[str], timeout_s: float, console) -> None:
    """Run one stage's process with the terminal shared, bounded by ``timeout_s``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
    try:
        code = proc.wait(timeout=timeout_s)
        stage.detail = "" if code == 0 else f"exit {code} ({_exit_name(code)})"
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        code, stage.detail = int(Exit.UNUSABLE), f"stopped after {timeout_s:.0f} s (--stage-timeout)"
    stage.exit_code, stage.seconds = code, time.perf_counter() - t0
    stage.status = "ok" if code == 0 else "failed"
    colour = "green" if code == 0 else "red"
    console.print(f"[{colour}]{stage.title}: {stage.status}[/{colour}] in {stage.seconds:.1f} s {stage.detail}")


def _exit_name(code: int) -> str:
    try:
        return Exit(code).name
    except ValueError:
        return "crashed"


def _report(out: Path, stage: Stage, console) -> list[Path]:
    """``hongbao report OUT``: report.md and report.html from every section the run folder has."""
    _run_stage(stage, [sys.executable, "-m", "hongbao.harness.cli", "report", str(out)], 180, console)
    paths = [p for p in (out / "report.md", out / "report.html") if p.is_file()]
    if stage.status == "ok" and not paths:
        stage.status, stage.detail = "failed", "no report written"
    return paths


def _write_summary(out: Path, stages: list[Stage], seed, started: float, report: list[Path]) -> dict:
    from hongbao.harness.report.sections.summary import headlines

    doc = {
        "schema": "hongbao-run/1",
        "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seed": seed,
        "seconds": time.perf_counter() - started,
        "machine": f"{platform.node()} ({platform.machine()}, {_cores()} cores, Python {platform.python_version()})",
        "stages": [asdict(s) for s in stages],
        "headlines": headlines(out),
        "report": {"markdown": str(out / "report.md"), "html": str(out / "report.html")} if report else None,
    }
    (out / "summary.json").write_text(json.dumps(doc, indent=1))
    return doc


def _cores() -> int:
    import os

    return os.cpu_count() or 1


def _print_table(console, stages: list[Stage], doc: dict, out: Path) -> None:
    from rich.table import Table

    table = Table(title="hongbao run: summary")
    for col in ("stage", "result", "seconds", "detail"):
        table.add_column(col)
    for s in stages:
        mark = {"ok": "[green]ok[/green]", "failed": "[red]FAILED[/red]"}.get(s.status, "skipped")
        table.add_row(s.title, mark, f"{s.seconds:.1f}", s.detail)
    console.print(table)
    heads = Table(title="headlines", show_header=False)
    for label, value in doc["headlines"]:
        heads.add_row(label, value)
    if doc["headlines"]:
        console.print(heads)
    where = out / "report.html"
    if where.is_file():
        console.print(f"[bold]report:[/bold] {where.resolve()}  (and report.md, summary.json beside it)")
    else:
        console.print(f"[red]no report.html was written[/red]; results are in {out.resolve()}")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console()
    for flag, value, low in (
        ("--fairness-envelopes", args.fairness_envelopes, 2),
        ("--ramp-steps", args.ramp_steps, 1),
        ("--step-seconds", args.step_seconds, 3),
    ):
        if value < low:
            print(f"hongbao run: error: {flag} must be >= {low} (got {value})", file=sys.stderr)
            return int(Exit.UNUSABLE)
    if args.seed is not None and args.seed < 0:
        print(f"hongbao run: error: --seed must be >= 0 (got {args.seed})", file=sys.stderr)
        return int(Exit.UNUSABLE)
    out = (args.out or default_run_dir()).resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    titles = {
        "bench": "kernel benchmark (quick)",
        "fairness": "fairness scorecard",
        "storm": "grab storm + audit",
        "capacity": "saturation ramp + capacity",
        "report": "report",
    }
    stages = [Stage(n, titles[n]) for n in STAGES]
    for i, stage in enumerate(stages[:-1], 1):
        console.rule(f"[bold]{i}/{len(STAGES)} {stage.title}")
        if stage.name in args.skip:
            stage.detail = "--skip"
            console.print("skipped (--skip)")
            continue
        _run_stage(stage, _command(stage.name, args, out), args.stage_timeout, console)
    console.rule(f"[bold]{len(STAGES)}/{len(STAGES)} report")
    stages[-1].status, stages[-1].detail = "ok", "this report"  # what the summary section will show
    _write_summary(out, stages, args.seed, started, [])  # the summary section reads it
    stages[-1].detail = ""
    report = _report(out, stages[-1], console)
    doc = _write_summary(out, stages, args.seed, started, report)
    _print_table(console, stages, doc, out)
    failed = [s for s in stages if s.status == "failed"]
    return int(failed[0].exit_code or Exit.UNUSABLE) if failed else int(Exit.OK)
