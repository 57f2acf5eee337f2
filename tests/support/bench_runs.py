"""Real, small ``hongbao bench`` runs for the harness tests (subprocess, so the suites' pytest
session is separate from the test session)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden"


def hongbao(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run ``python -m hongbao.harness.cli ARGS`` from the repository root (so tests.support imports)."""
    return subprocess.run(
        [sys.executable, "-m", "hongbao.harness.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def bench_run(out: Path, filter_expr: str, *extra: str) -> Path:
    """A real quick-profile run restricted by ``filter_expr``; returns the run folder."""
    res = hongbao("bench", "--profile", "quick", "--filter", filter_expr, "--out", str(out), *extra)
    assert res.returncode == 0, f"hongbao bench failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
    assert (out / "benchmark.json").is_file()
    return out


def scaled_copy(src: Path, dst: Path, factor: float, match: str = "") -> Path:
    """A copy of a benchmark JSON with the raw samples of benchmarks whose name contains ``match``
    multiplied by ``factor`` (a constructed input, for unit tests of the verdict rules only)."""
    doc = json.loads(src.read_text())
    for b in doc["benchmarks"]:
        if match in b["name"]:
            b["stats"]["data"] = [x * factor for x in b["stats"]["data"]]
            b["stats"]["median"] *= factor
    dst.write_text(json.dumps(doc))
    return dst
