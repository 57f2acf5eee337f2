"""Live progress of a storm (rich): time left and current grabs/s, read from progress.json that
the Locust master rewrites every second. Also enforces the hard timeout."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn


def current_rate(progress: dict) -> float:
    """New grabs per second over the last complete seconds Locust's master has merged."""
    tail = sorted(progress.get("timeline_tail", {}).items())[:-1]  # the newest second is partial
    tail = tail[-3:]
    if not tail:
        return 0.0
    ok = sum(v.get("grab", [0, 0])[0] - v.get("grab", [0, 0])[1] for _, v in tail)
    return ok / len(tail)


def watch(
    proc: subprocess.Popen, progress_path: Path, duration_s: float, hard_timeout_s: float, show: bool = True
) -> bool:
    """Wait for Locust to exit, showing progress; True if the hard timeout had to stop it."""
    start = time.monotonic()
    cols = [TextColumn("[bold]storm[/]"), BarColumn(), TextColumn("{task.fields[status]}"), TimeRemainingColumn()]
    with Progress(*cols, disable=not show, transient=False) as bar:
        task = bar.add_task("storm", total=duration_s, status="starting")
        while proc.poll() is None:
            elapsed = time.monotonic() - start
            if elapsed > hard_timeout_s:
                return True
            try:
                p = json.loads(progress_path.read_text())
                status = f"{p.get('users', 0)} users, {current_rate(p):,.0f} grabs/s, {p.get('grabs_ok', 0):,} grabs"
            except (OSError, ValueError):
                status = "waiting for Locust"
            bar.update(task, completed=min(elapsed, duration_s), status=status)
            time.sleep(0.5)
        bar.update(task, completed=duration_s, status="done")
    return False
