"""``hongbao report RUN_DIR``: report.md (CI job summary) and a self-contained report.html."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from hongbao.loadtests.exitcodes import Exit

HELP = "write report.md and report.html (with plots) for a run folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Build RUN_DIR/report.md (GitHub-flavoured, fits $GITHUB_STEP_SUMMARY) and RUN_DIR/report.html "
        "(one file, PNG plots embedded) from the results present in the run folder: benchmark.json, "
        "fairness.json, storm.json, capacity.json, summary.json. Absent results are skipped."
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run folder such as results/20261125T120000Z")


def run(args: argparse.Namespace) -> int:
    from hongbao.harness.report.builder import write_report  # matplotlib: only when the command runs

    console = Console(stderr=True, soft_wrap=True)
    if not args.run_dir.is_dir():
        console.print(f"[red]RUN_DIR {args.run_dir}: no such folder[/red]")
        return Exit.UNUSABLE
    md_path, html_path, sections, problems = write_report(args.run_dir)
    for p in problems:
        console.print(f"[yellow]{p}[/yellow]")
    if not sections:
        console.print(
            f"[red]RUN_DIR {args.run_dir}: no results to report (benchmark.json, fairness.json, "
            "storm.json, capacity.json all absent)[/red]"
        )
        return Exit.UNUSABLE
    figures = sum(len(s.figures) for s in sections)
    console.print(f"[green]{len(sections)} section(s), {figures} plot(s)[/green] -> {md_path}, {html_path}")
    return Exit.OK
