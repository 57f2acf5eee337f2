"""Run the benchmark suites in-process with pytest.main and a rich progress bar."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hongbao.harness import bench
from hongbao.harness.results import short_name

SUITES_DIR = Path(__file__).parent / "suites"


@dataclass
class SuiteRun:
    """One run of the benchmark suites: pytest's exit code, the JSON it wrote, its time, its failures."""

    exit_code: int
    json_path: Path
    seconds: float
    failures: list[tuple[str, str]] = field(default_factory=list)


class _ProgressPlugin:
    """Advances a progress bar per finished benchmark and keeps failure text for the caller."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("collecting", total=None)
        self.failures: list[tuple[str, str]] = []

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.progress.update(self.task, total=len(session.items), description="benchmarking")

    def pytest_runtest_logstart(self, nodeid: str, location) -> None:
        self.progress.update(self.task, description=short_name(nodeid))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.failures.append((report.nodeid, str(report.longrepr)[-3000:]))
        if report.when == "teardown":
            self.progress.advance(self.task)


def pytest_args(
    profile: str,
    json_path: Path,
    filter_expr: str | None,
    seed: int,
    impl_module: str,
    verbose: bool = False,
    max_time_s: float | None = None,
    base_ref: str | None = None,
    first: str = "base",
    min_rounds: int | None = None,
    impl_ref: str | None = None,
) -> list[str]:
    """The pytest command line that runs the suites (also usable by hand)."""
    bench.PROFILES[profile]  # KeyError early for an unknown profile
    args = [
        "-c",
        str(SUITES_DIR / "pytest.ini"),
        "--rootdir",
        str(SUITES_DIR),
        str(SUITES_DIR),
        f"--hongbao-profile={profile}",
        f"--hongbao-seed={seed}",
        f"--hongbao-impl-module={impl_module}",
        f"--benchmark-json={json_path}",
        "--benchmark-save-data",
        # pytest-benchmark makes its storage folder (default ./.benchmarks) even when it saves
        # nothing: keep it in the run folder, not wherever the user stands
        f"--benchmark-storage=file://{json_path.parent.resolve()}",
        "-W",
        "ignore::numba.NumbaWarning",
    ]
    if filter_expr:
        args += ["-k", filter_expr]
    if max_time_s is not None:
        args.append(f"--hongbao-max-time={max_time_s}")
    if base_ref is not None:
        args += [f"--hongbao-base-ref={base_ref}", f"--hongbao-first={first}"]
    if min_rounds is not None:
        args.append(f"--hongbao-min-rounds={min_rounds}")
    if impl_ref is not None:
        args.append(f"--hongbao-impl-ref={impl_ref}")
    if not verbose:
        args += ["-p", "no:terminal"]
    return args


def run_suites(
    *,
    profile: str,
    out_dir: Path,
    filter_expr: str | None = None,
    seed: int = 2026,
    impl_module: str = "hongbao.kernels",
    verbose: bool = False,
    console: Console | None = None,
    max_time_s: float | None = None,
    base_ref: str | None = None,
    first: str = "base",
    min_rounds: int | None = None,
    impl_ref: str | None = None,
) -> SuiteRun:
    """Run the suites; pytest-benchmark writes ``out_dir/benchmark.json``. ``impl_ref``: time that git
    commit's kernels (harness.baseref) instead of ``impl_module`` (what ``hongbao bisect`` does)."""
    json_path = out_dir / "benchmark.json"
    if json_path.exists():
        json_path.unlink()
    args = pytest_args(
        profile, json_path, filter_expr, seed, impl_module, verbose, max_time_s, base_ref, first, min_rounds, impl_ref
    )
    t0 = time.perf_counter()
    with Progress(
        TextColumn("[bold]{task.description:<44}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console or Console(stderr=True),
        transient=False,
    ) as progress:
        plugin = _ProgressPlugin(progress)
        code = pytest.main(args, plugins=[plugin])
    return SuiteRun(int(code), json_path, time.perf_counter() - t0, plugin.failures)
