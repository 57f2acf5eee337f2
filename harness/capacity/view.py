"""Terminal side of ``hongbao capacity``: a progress bar per stage, the knee and projection tables,
and the run folder's report (through the kit's report builder)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from hongbao.harness.capacity.saturation import LIMIT_NAMES
from hongbao.harness.report.sections.capacity import _fmt


@contextmanager
def progress(console: Console):
    """Yields ``update(stage, done, total)``; each new stage gets its own bar."""
    bars = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    tasks: dict[str, TaskID] = {}

    def update(stage: str, done: float, total: float) -> None:
        for name, tid in tasks.items():  # a new stage finishes the ones before it
            if name != stage:
                bars.update(tid, completed=bars.tasks[tid].total)
        if stage not in tasks:
            tasks[stage] = bars.add_task(stage, total=total or 1)
        bars.update(tasks[stage], completed=done, total=total or 1)

    with bars:
        yield update
        for tid in tasks.values():
            bars.update(tid, completed=bars.tasks[tid].total)


def print_capacity(console: Console, doc: dict) -> None:
    """The knees, then the projection with where each figure came from."""
    knees = Table(title="Saturation search (knee = highest offered grabs/s answered within the SLO)")
    for col in (
        "ramp",
        "knee: offered grabs/s",
        "answered grabs/s",
        "dropped",
        "p99 ms",
        "stopped because",
        "limited by",
        "bound",
    ):
        knees.add_column(col)
    for ramp in doc["ramps"]:
        k = ramp["knee"]
        knees.add_row(
            ramp["label"],
            _fmt(k.get("offered_per_second")),
            _fmt(k["grabs_per_second"]),
            _fmt(k.get("dropped")),
            _fmt(k["p99_ms"]),
            k["stop_reason"],
            LIMIT_NAMES.get(k["limiting"], k["limiting"]),
            "[yellow]lower bound[/yellow]" if k["lower_bound"] else "measured",
        )
    console.print(knees)
    t = doc["target"]
    proj = Table(
        title=f"Projection for {t['title']} ({t['grabs_per_second']:,.0f}/s), "
        f"headroom {doc['headroom']:.0%}, p99 SLO {doc['slo']['p99_ms']:g} ms"
    )
    for col in ("quantity", "value", "unit", "how"):
        proj.add_column(col, overflow="fold")
    for row in doc["projection"]:
        proj.add_row(row["quantity"], _fmt(row["value"]), row["unit"], row["formula"])
    console.print(proj)
    for note in doc.get("notes", []):
        console.print(f"[yellow]note:[/yellow] {note}")


def write_report(run_dir: Path, console: Console) -> list[Path]:
    """report.md and report.html of the run folder, with every section present (the kit's builder)."""
    from hongbao.harness.report.builder import write_report as build

    md_path, html_path, _sections, problems = build(run_dir)
    for problem in problems:
        console.print(f"[yellow]{problem}[/yellow]")
    for p in (md_path, html_path):
        console.print(f"wrote {p}")
    return [md_path, html_path]
