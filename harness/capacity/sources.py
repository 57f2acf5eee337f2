"""Reading the measurements a projection needs out of a run folder's JSON files."""

from __future__ import annotations

import json
from pathlib import Path


def kernel_rate(benchmark_json: Path, algorithm: str = "double_mean", count: int = 10) -> dict | None:
    """Shares/s of one core splitting with the Numba serial kernel, from pytest-benchmark's JSON.

    Picks the serial benchmark of ``algorithm`` whose count is closest to ``count`` (largest batch on
    ties); also returns the pure-Python baseline's rate for the same case when present. None when
    the file holds no serial benchmark.
    """
    try:
        data = json.loads(Path(benchmark_json).read_text())
    except (OSError, ValueError):
        return None
    serial: list[dict] = []
    python: list[dict] = []
    for bench in data.get("benchmarks", []):
        extra = bench.get("extra_info") or {}
        rate = extra.get("shares_per_second")
        if not rate or extra.get("algorithm") != algorithm:
            continue
        (serial if extra.get("impl") == "serial" else python if extra.get("impl") == "python" else []).append(extra)
    if not serial:
        return None
    best = min(serial, key=lambda e: (abs(int(e.get("count", count)) - count), -int(e.get("envelopes", 0))))
    out = {
        "algorithm": algorithm,
        "count": best.get("count"),
        "envelopes": best.get("envelopes"),
        "shares_per_second": float(best["shares_per_second"]),
        "source": str(benchmark_json),
        "python_shares_per_second": None,
    }
    same = [e for e in python if e.get("count") == best.get("count")]
    if same:
        out["python_shares_per_second"] = float(same[0]["shares_per_second"])
    return out


def load_capacity(run_dir: Path) -> dict | None:
    """capacity.json of a run folder, or None."""
    path = Path(run_dir) / "capacity.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text())
