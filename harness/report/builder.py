"""Assemble a run folder's sections into report.md and one self-contained report.html."""

from __future__ import annotations

import base64
import html
import importlib
import pkgutil
import traceback
from pathlib import Path

from markdown_it import MarkdownIt

from hongbao.harness.report import sections as _sections_pkg
from hongbao.harness.report.section import Section

#: Known sections first, in this order; any other module under harness/report/sections/ follows.
ORDER = ("summary", "bench", "fairness", "storm", "capacity")

CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:13px;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px}
th{background:#f3f3f3}img{max-width:100%;border:1px solid #eee;margin:.5em 0}h2{border-bottom:2px solid #c00}
code{background:#f5f5f5;padding:0 3px}"""


def section_names() -> list[str]:
    found = {m.name for m in pkgutil.iter_modules(_sections_pkg.__path__)}
    return [n for n in ORDER if n in found] + sorted(found - set(ORDER))


def collect(run_dir: Path) -> tuple[list[Section], list[str]]:
    """Render every section present; a section that fails is reported, never fatal."""
    out, problems = [], []
    for name in section_names():
        try:
            module = importlib.import_module(f"hongbao.harness.report.sections.{name}")
            section = module.render(run_dir)
        except Exception as exc:  # one broken section must not lose the others
            problems.append(f"section {name}: {type(exc).__name__}: {exc}")
            traceback.print_exc()
            continue
        if section is not None:
            out.append(section)
    return out, problems


def to_markdown(run_dir: Path, sections: list[Section], problems: list[str]) -> str:
    parts = [f"# hongbao-bench report: {run_dir.name}", ""]
    for s in sections:
        parts += [f"## {s.title}", "", s.markdown.strip(), ""]
        if s.figures:
            parts += ["Plots: " + ", ".join(f"`{Path(f).name}`" for f in s.figures) + " (embedded in report.html)", ""]
    parts += [f"> {p}" for p in problems]
    return "\n".join(parts).rstrip() + "\n"


def _img(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(Path(path).stem)}" src="data:image/png;base64,{data}">'


def to_html(run_dir: Path, sections: list[Section], problems: list[str]) -> str:
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    body = [f"<h1>hongbao-bench report: {html.escape(run_dir.name)}</h1>"]
    for s in sections:
        body.append(f"<h2>{html.escape(s.title)}</h2>")
        body.append(s.html or md.render(s.markdown))
        body += [_img(f) for f in s.figures if Path(f).is_file()]
    body += [f"<p><em>{html.escape(p)}</em></p>" for p in problems]
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>hongbao-bench report "
        f"{html.escape(run_dir.name)}</title><style>{CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )


def write_report(run_dir: Path) -> tuple[Path, Path, list[Section], list[str]]:
    """Write run_dir/report.md and run_dir/report.html; returns their paths, the sections and problems."""
    run_dir = Path(run_dir)
    sections, problems = collect(run_dir)
    md_path, html_path = run_dir / "report.md", run_dir / "report.html"
    md_path.write_text(to_markdown(run_dir, sections, problems))
    html_path.write_text(to_html(run_dir, sections, problems))
    return md_path, html_path, sections, problems
