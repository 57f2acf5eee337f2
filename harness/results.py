"""Load and validate benchmark results: pytest-benchmark JSON files or run folders.

A run folder (results/<UTC timestamp>/) holds benchmark.json and, when the fairness helper ran,
fairness.json. Anything unusable raises :class:`UnusableInput` with a message naming the file and
what is wrong with it (``hongbao compare`` turns that into exit code 2).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


def short_name(name: str) -> str:
    """A benchmark's id without its test function: "bench_split[double_mean-serial-c10-n20000]" ->
    "double_mean-serial-c10-n20000" (a name without brackets is returned as it is)."""
    return name.split("[", 1)[-1].rstrip("]") if "[" in name else name


class UnusableInput(Exception):
    """A results file or folder that cannot be compared; the message says which and why."""


@dataclass
class Benchmark:
    """One benchmark: raw per-iteration samples (seconds) and the kit's extra_info."""

    name: str
    samples_s: np.ndarray
    extra: dict

    @property
    def normalised(self) -> bool:
        return "rng_fill_seconds_per_value" in self.extra and "shares_per_round" in self.extra

    def gated_samples(self) -> np.ndarray:
        """RNG fills per share (time per share / numpy's fill time per value, paired round by round
        when the run recorded one control per round) when the control is present; raw seconds otherwise."""
        if not self.normalised:
            return self.samples_s
        paired = self.extra.get("rng_fill_seconds_per_value_samples")
        per_value: np.ndarray | float
        if isinstance(paired, list) and len(paired) == len(self.samples_s):
            per_value = np.asarray(paired, dtype=np.float64)  # one control per round, same moment
        else:
            per_value = float(self.extra["rng_fill_seconds_per_value"])
        return self.samples_s / float(self.extra["shares_per_round"]) / per_value

    def base_pairs(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(base commit's seconds, this code's seconds), round by round, when the run timed the
        --base-ref kernels beside this benchmark; None otherwise."""
        base = self.extra.get("base_seconds_samples")
        new = self.extra.get("paired_new_seconds_samples", self.samples_s)  # older runs: the round's own
        if not isinstance(base, list) or len(base) != len(new):
            return None
        return np.asarray(base, dtype=np.float64), np.asarray(new, dtype=np.float64)

    def process_ratios(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(each process's median ratio new / base, base seconds, new seconds) when the run timed
        the --base-ref code beside this benchmark in two or more processes; None otherwise."""
        ratios = self.extra.get("repeat_vs_base")
        if not isinstance(ratios, list) or len(ratios) < 2:
            return None
        base = np.asarray(self.extra.get("base_seconds_samples"), dtype=np.float64)
        pairs = self.base_pairs()
        assert pairs is not None  # a run that timed the base code in processes kept each round's pair
        return np.asarray(ratios, dtype=np.float64), base, pairs[1]

    @property
    def short_name(self) -> str:
        return short_name(self.name)


@dataclass
class Run:
    source: Path
    benchmarks: dict[str, Benchmark]
    doc: dict
    fairness: dict | None = None
    folder: Path | None = None
    notes: list[str] = field(default_factory=list)


def _read_json(path: Path, what: str) -> dict:
    try:
        text = path.read_text()
    except OSError as exc:
        raise UnusableInput(f"{what} {path}: cannot read it ({exc.strerror or exc})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnusableInput(f"{what} {path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict):
        raise UnusableInput(f"{what} {path}: expected a JSON object at the top level")
    return doc


def parse_benchmarks(doc: dict, path: Path, what: str = "file") -> dict[str, Benchmark]:
    """Validate pytest-benchmark's JSON shape and pull out raw samples."""
    items = doc.get("benchmarks")
    if not isinstance(items, list):
        raise UnusableInput(f"{what} {path}: not pytest-benchmark JSON (no 'benchmarks' list)")
    out: dict[str, Benchmark] = {}
    for i, item in enumerate(items):
        name = item.get("name") or item.get("fullname") if isinstance(item, dict) else None
        if not name:
            raise UnusableInput(f"{what} {path}: benchmarks[{i}] has no name")
        data = (item.get("stats") or {}).get("data")
        if not isinstance(data, list) or len(data) < 2:
            raise UnusableInput(
                f"{what} {path}: benchmark {name} has no raw samples (stats.data); "
                "write the JSON with --benchmark-json as `hongbao bench` does"
            )
        try:
            samples = np.asarray(data, dtype=np.float64)
        except (TypeError, ValueError):
            raise UnusableInput(f"{what} {path}: benchmark {name} has non-numeric samples") from None
        if not np.all(np.isfinite(samples)) or np.any(samples <= 0):
            raise UnusableInput(f"{what} {path}: benchmark {name} has samples that are not positive times")
        out[name] = Benchmark(name, samples, dict(item.get("extra_info") or {}))
    if not out:
        raise UnusableInput(f"{what} {path}: holds no benchmarks")
    return out


def load_run(path: str | Path, what: str = "input") -> Run:
    """A benchmark JSON file or a run folder (benchmark.json + optional fairness.json)."""
    path = Path(path)
    if not path.exists():
        raise UnusableInput(f"{what} {path}: no such file or folder")
    folder = None
    fairness = None
    if path.is_dir():
        folder = path
        bench_path = path / "benchmark.json"
        if not bench_path.is_file():
            raise UnusableInput(f"{what} {path}: run folder has no benchmark.json")
        fair_path = path / "fairness.json"
        if fair_path.is_file():
            fairness = _read_json(fair_path, what)
            if not isinstance(fairness.get("algorithms"), dict):
                raise UnusableInput(f"{what} {fair_path}: no 'algorithms' object (fairness.json schema)")
        path = bench_path
    doc = _read_json(path, what)
    return Run(path, parse_benchmarks(doc, path, what), doc, fairness, folder)


def saved_runs(root: Path) -> list[tuple[str, Path]]:
    """(run name, benchmark.json) for every results/*/benchmark.json, oldest first by folder name."""
    return [(p.parent.name, p) for p in sorted(root.glob("*/benchmark.json"))]
