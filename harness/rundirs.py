"""Where a command's run folder goes: ``./results/<UTC time>/`` of the folder it is started in (or
``--out``), never beside the installed code."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path


def timestamp() -> str:
    """A run folder's name: the UTC time, e.g. 20261125T120000Z."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def results_dir() -> Path:
    """``./results`` of the current folder."""
    return Path.cwd() / "results"


def default_run_dir() -> Path:
    """``./results/<UTC timestamp>/`` of the current folder."""
    return results_dir() / timestamp()
