"""A user's allocator ``f(total_cents, count) -> list[int]`` (``hongbao bench --callable
module:function``, the form ``hongbao fairness --callable`` takes) timed beside the kernels.

The same counts and the same envelope totals as the pure-Python baseline cases of the profile,
the same clock (the thread's CPU time) and the same RNG control paired with every round, so its
``extra_info`` carries the kernels' figures: ``shares_per_second``, ``fraction_of_rng_limit`` and,
added across the run (harness.bench.add_cross_ratios), ``speedup_vs_python`` against the stdlib
double_mean baseline at the same count. Python's ``random`` and numpy's global RNG are seeded
first; every envelope of the warm-up round is checked for exactness before any round is timed.
Benchmark ids read ``<function>-callable-c<count>-n<envelopes>``.
"""

from __future__ import annotations

import os
import random
import time
from typing import Any

import numpy as np
import pytest

from hongbao.harness import bench
from hongbao.harness.fairness.allocator import _problem, load_callable

CALLABLE_ENV = "HONGBAO_BENCH_CALLABLE"
SPEC = os.environ.get(CALLABLE_ENV)
if not SPEC:
    pytest.skip("no --callable given", allow_module_level=True)
FUNC = load_callable(SPEC)
NAME = SPEC.rpartition(":")[2].replace(".", "_")
IMPL = "callable"


def callable_cases(profile: bench.Profile) -> list[bench.Case]:
    """One case per count of the profile, sized like its pure-Python baseline case."""
    return [
        bench.Case(NAME, IMPL, c.count, c.envelopes)
        for c in bench.cases(profile)
        if c.impl == bench.PYTHON and c.algorithm == "double_mean"
    ]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "user_case" in metafunc.fixturenames:
        found = callable_cases(bench.PROFILES[metafunc.config.getoption("hongbao_profile")])
        metafunc.parametrize("user_case", found, ids=[c.id for c in found])


def bench_user_allocator(benchmark, user_case: bench.Case, profile: bench.Profile, seed: int) -> None:
    case = user_case
    totals = [int(t) for t in bench.batch_totals_cents(case.count, case.envelopes, seed)]
    random.seed(seed)
    np.random.seed(seed % 2**32)

    def target():
        return [FUNC(t, case.count) for t in totals]

    for e, (total, shares) in enumerate(zip(totals, target(), strict=True)):
        problem = _problem(shares, total, case.count, 1, None)
        if problem:
            raise AssertionError(
                f"{SPEC} is not exact, so it is not timed: envelope {e} (total {total}, count {case.count}): {problem}"
            )
    clock = time.thread_time
    benchmark._timer = clock  # as the kernels' single-threaded cases (bench_kernels.py)
    t0 = clock()
    target()
    control = bench.PairedControl(case.shares, clock, seed)
    benchmark.pedantic(
        target, setup=control.measure, rounds=bench.rounds_for(clock() - t0, profile), warmup_rounds=1, iterations=1
    )
    extra: dict[str, Any] = {
        "algorithm": case.algorithm,
        "impl": IMPL,
        "callable": SPEC,
        "count": case.count,
        "envelopes": case.envelopes,
        "shares_per_round": case.shares,
        "profile": profile.name,
        "baseline_algorithm": "double_mean",
        "clock": clock.__name__,
    }
    samples = control.samples[1:]  # the first setup call served the warm-up round
    extra["rng_fill_seconds_per_value_samples"] = samples
    extra["rng_fill_seconds_per_value"] = bench.median(samples)
    extra.update(bench.run_figures(extra, benchmark.stats.stats.median))
    benchmark.extra_info.update(extra)
