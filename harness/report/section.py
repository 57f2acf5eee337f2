"""What each part of the kit contributes to a run's report.

A run folder (results/<timestamp>/) holds benchmark.json, fairness.json, storm.json,
capacity.json, ... Each kind has a module ``harness/report/sections/<kind>.py`` with
``render(run_dir: Path) -> Section | None`` (None when its JSON is absent); ``hongbao report``
puts the sections it finds, in order, into report.md and one self-contained report.html.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Section:
    title: str
    markdown: str  # GitHub-flavoured, fits a CI job summary
    html: str = ""  # body fragment; empty = rendered from markdown
    figures: list[Path] = field(default_factory=list)  # PNGs in the run folder, embedded in the HTML
