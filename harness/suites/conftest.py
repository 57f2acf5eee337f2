"""Fixtures and hooks for the kernel benchmark suites (pytest-benchmark).

Options: ``--hongbao-profile quick|full``, ``--hongbao-seed N``, ``--hongbao-impl-module MOD``
(a module exposing ``split_batch`` with the kernels' signature; default ``hongbao.kernels``; the
name ``kernels``, found in older run records, means the same) and
``--hongbao-base-ref REF`` (time that git commit's kernels beside each serial case, harness.baseref),
``--hongbao-first base|new`` (with a base ref: which side this process loads first and times first
in its first round; ``hongbao bench --processes K`` alternates it from one process to the next).
"""

from __future__ import annotations

import dataclasses
import importlib
import os

import pytest

from hongbao.harness import bench

#: impl_module names recorded in older benchmark.json files (a baseline re-run by --confirm)
LEGACY_IMPL_MODULES = {"kernels": "hongbao.kernels"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hongbao")
    group.addoption(
        "--hongbao-profile", default="quick", choices=sorted(bench.PROFILES), help="benchmark profile (default quick)"
    )
    group.addoption("--hongbao-seed", type=int, default=2026, help="seed for envelope totals and RNGs")
    group.addoption(
        "--hongbao-max-time",
        type=float,
        default=None,
        help="seconds of timed rounds per benchmark (default: the profile's max_time_s)",
    )
    group.addoption(
        "--hongbao-impl-module",
        default="hongbao.kernels",
        help="module exposing split_batch(...) to benchmark instead of kernels",
    )
    group.addoption(
        "--hongbao-base-ref",
        default=None,
        help="git ref whose kernels are timed beside each serial case, round by round",
    )
    group.addoption(
        "--hongbao-min-rounds",
        type=int,
        default=None,
        help="timed rounds per benchmark at least (default: the profile's min_rounds)",
    )
    group.addoption(
        "--hongbao-impl-ref",
        default=None,
        help="git commit whose kernels are benchmarked instead of --hongbao-impl-module",
    )
    group.addoption(
        "--hongbao-first",
        default="base",
        choices=("base", "new"),
        help="with a base ref: the side loaded first and timed first (default base)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        profile = bench.PROFILES[metafunc.config.getoption("hongbao_profile")]
        all_cases = bench.cases(profile)
        metafunc.parametrize("case", all_cases, ids=[c.id for c in all_cases])


@pytest.fixture(scope="session")
def profile(pytestconfig: pytest.Config) -> bench.Profile:
    chosen = bench.PROFILES[pytestconfig.getoption("hongbao_profile")]
    max_time = pytestconfig.getoption("hongbao_max_time")
    min_rounds = pytestconfig.getoption("hongbao_min_rounds")
    chosen = chosen if max_time is None else dataclasses.replace(chosen, max_time_s=max_time)
    return chosen if min_rounds is None else dataclasses.replace(chosen, min_rounds=min_rounds)


@pytest.fixture(scope="session")
def seed(pytestconfig: pytest.Config) -> int:
    return pytestconfig.getoption("hongbao_seed")


@pytest.fixture(scope="session")
def impl_module(pytestconfig: pytest.Config):
    ref = pytestconfig.getoption("hongbao_impl_ref")
    if ref is not None:  # another commit's kernels (hongbao bisect), extracted as harness.baseref does
        return _kernels_at(ref)
    name = pytestconfig.getoption("hongbao_impl_module")
    name = LEGACY_IMPL_MODULES.get(name, name)
    module = importlib.import_module(name)
    if not callable(getattr(module, "split_batch", None)):
        raise pytest.UsageError(f"--hongbao-impl-module {name} has no split_batch function")
    return module


def _kernels_at(ref: str):
    from hongbao.harness import baseref
    from hongbao.harness.results import UnusableInput

    try:
        return baseref.kernels_at(ref)
    except UnusableInput as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.fixture(scope="session")
def base_module(pytestconfig: pytest.Config):
    """The --hongbao-base-ref commit's kernels (harness.baseref), or None."""
    ref = pytestconfig.getoption("hongbao_base_ref")
    if ref is None:
        return None
    module = _kernels_at(ref)
    if pytestconfig.getoption("hongbao_first") == "base":  # load its machine code before the working kernels'
        import numpy as np

        for parallel in (False, True):
            module.split_batch(
                np.array([1_000], dtype=np.int64),
                2,
                algorithm="double_mean",
                min_cents=1,
                seed=1,
                parallel=parallel,
                out=np.empty((1, 2), dtype=np.int64),
            )
    return module


@pytest.fixture(scope="session")
def first(pytestconfig: pytest.Config) -> str:
    """ "base" or "new": which side of an alternating pair goes first in the first round."""
    return pytestconfig.getoption("hongbao_first")


def pytest_benchmark_update_json(config, benchmarks, output_json) -> None:
    """Cross-benchmark ratios (speedup_vs_python, parallel_speedup) once every median is known."""
    bench.add_cross_ratios(output_json["benchmarks"])
    output_json.setdefault("hongbao", {})
    output_json["hongbao"].update(
        {
            "profile": config.getoption("hongbao_profile"),
            "seed": config.getoption("hongbao_seed"),
            "max_time_s": config.getoption("hongbao_max_time")
            or bench.PROFILES[config.getoption("hongbao_profile")].max_time_s,
            "impl_module": config.getoption("hongbao_impl_module"),
            "base_ref": config.getoption("hongbao_base_ref"),
            "impl_ref": config.getoption("hongbao_impl_ref"),
            "first": config.getoption("hongbao_first"),
            "min_rounds": config.getoption("hongbao_min_rounds"),
            "format": "pytest-benchmark JSON; kit figures in extra_info",
            "load_average_1m_at_end": os.getloadavg()[0],
            "cpu_count": os.cpu_count(),
        }
    )
