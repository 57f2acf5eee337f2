"""Terminal side of ``hongbao capacity``: a progress bar per stage, the knee and projection tables,
and the run folder's report (through the kit's report builder when it is installed)."""
from __future__ import annotations

import base64
import html
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from harness.report.sections.capacity import _fmt


@contextmanager
def progress(console: Console):
    """Yields ``update(stage, done, total)``; each new stage gets its own bar."""
    bars = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                    TimeElapsedColumn(), console=console, transient=False)
    tasks: dict[str, int] = {}

    def update(stage: str, done: float, total: float) -> None:
        for name, tid in tasks.items():      # a new stage finishes the ones before it
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
    knees = Table(title="Saturation search (knee = highest sustainable grabs/s)")
    for col in ("ramp", "knee grabs/s", "p99 ms", "stopped because", "limited by", "bound"):
        knees.add_column(col)
    for ramp in doc["ramps"]:
        k = ramp["knee"]
        knees.add_row(ramp["label"], _fmt(k["grabs_per_second"]), _fmt(k["p99_ms"]), k["stop_reason"],
                      k["limiting"].replace("_", " "), "[yellow]lower bound[/yellow]" if k["lower_bound"] else "measured")
    console.print(knees)
    t = doc["target"]
    proj = Table(title=f"Projection for {t['title']} ({t['grabs_per_second']:,.0f}/s), "
                       f"headroom {doc['headroom']:.0%}, p99 SLO {doc['slo']['p99_ms']:g} ms")
    for col in ("quantity", "value", "unit", "how"):
        proj.add_column(col, overflow="fold")
    for row in doc["projection"]:
        proj.add_row(row["quantity"], _fmt(row["value"]), row["unit"], row["formula"])
    console.print(proj)
    for note in doc.get("notes", []):
        console.print(f"[yellow]note:[/yellow] {note}")


SECTION_ORDER = ("summary", "benchmark", "fairness", "storm", "capacity")


def _sections(run_dir: Path) -> list:
    """Every section module under harness/report/sections that has something for this run."""
    import importlib
    folder = Path(__file__).resolve().parents[1] / "report" / "sections"
    names = sorted((p.stem for p in folder.glob("*.py") if not p.stem.startswith("_")),
                   key=lambda n: (SECTION_ORDER.index(n) if n in SECTION_ORDER else 99, n))
    found = []
    for name in names:
        try:
            section = importlib.import_module(f"harness.report.sections.{name}").render(run_dir)
        except Exception as exc:  # noqa: BLE001 - one broken section must not lose the others
            section = None
            print(f"report: section {name} failed: {type(exc).__name__}: {exc}")
        if section is not None:
            found.append(section)
    return found


def _own_report(run_dir: Path) -> list[Path]:
    """Fallback builder: report.md + a self-contained report.html (figures inlined) from the sections."""
    sections = _sections(run_dir)
    if not sections:
        return []
    md = "# hongbao-bench report\n\n" + "\n".join(f"## {s.title}\n\n{s.markdown}" for s in sections)
    (run_dir / "report.md").write_text(md)
    body = []
    for s in sections:
        imgs = "".join(f'<img alt="{html.escape(p.name)}" src="data:image/png;base64,'
                       f'{base64.b64encode(p.read_bytes()).decode()}" style="max-width:100%">'
                       for p in s.figures if Path(p).is_file())
        text = s.html or f"<pre style='white-space:pre-wrap'>{html.escape(s.markdown)}</pre>"
        body.append(f"<h2>{html.escape(s.title)}</h2>{imgs}{text}")
    (run_dir / "report.html").write_text("<!doctype html><meta charset='utf-8'><title>hongbao-bench report</title>"
                                         "<h1>hongbao-bench report</h1>" + "".join(body))
    return [run_dir / "report.md", run_dir / "report.html"]


def write_report(run_dir: Path, console: Console) -> list[Path]:
    """Build the run folder's report with the kit's builder (all sections), else the capacity one alone."""
    try:
        from harness.report.build import build_report
    except ImportError:
        paths = _own_report(run_dir)
    else:
        paths = build_report(run_dir)
    for p in paths or []:
        console.print(f"wrote {p}")
    return list(paths or [])
