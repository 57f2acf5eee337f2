"""Kernel throughput: algorithm x implementation x count x batch size (cases from harness.bench).

Numba cases are warmed up (JIT compiled, or loaded from Numba's cache) before any round is timed
(and before the round count is chosen), so no timed round ever includes compilation; the first
call's time is recorded apart as ``compile_seconds``. The RNG control is paired with the rounds:
pytest-benchmark's ``pedantic`` setup hook times one numpy fill of the same number of values just
before every round, so each raw sample has its own control from the same moment.

Clocks: single-threaded cases (Python baseline, Numba serial) and their controls are timed with the
calling thread's CPU time (``time.thread_time``), which a 2-core CI machine shared with other jobs
does not inflate when it preempts us; parallel cases need wall time (``time.perf_counter``).
Their ``parallel_speedup`` does not compare with the serial benchmark, timed at another moment on
another clock: each parallel round is paired with a wall-clock run of the serial kernel on the same
batch just before it (harness.bench.PairedRun), and the figure is the median of those ratios.

With ``--hongbao-base-ref`` (``hongbao bench --base-ref``), every case also times the base
commit's code (harness.baseref: its Numba kernel on the same batch and output array, or its Python
baseline), alternately just before and just after each round (harness.bench.AlternatingPair); the
regression gate judges those pairs. ``--hongbao-first`` says which side goes first (and, for the
machine code, which is loaded first); ``hongbao bench --processes K`` alternates it per process.
The profile's time budget per case (``max_time_s``) covers the whole cost of a round, pairs included.
"""

from __future__ import annotations

import importlib
import random
import time
from collections.abc import Callable

import numba
import numpy as np

from hongbao.harness import bench

_FIRST_CALL_SECONDS: dict[tuple, tuple[float, float]] = {}


def _numba_threads() -> int:
    """Numba's thread pool size (NUMBA_NUM_THREADS, read from the environment when numba loads)."""
    return numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined] # numba.config sets it at run time


def _numba_target(
    module, case: bench.Case, totals: np.ndarray, seed: int, parallel: bool, out: np.ndarray | None = None
):
    """Writes into one preallocated output, as the RNG control fills a preallocated buffer: both
    sides then time the computation, not the allocator's page faults."""
    out = np.empty((case.envelopes, case.count), dtype=np.int64) if out is None else out

    def target():
        return module.split_batch(
            totals, case.count, algorithm=case.algorithm, min_cents=1, seed=seed, parallel=parallel, out=out
        )

    return target


def _python_target(case: bench.Case, totals: np.ndarray, seed: int, baselines: dict):
    split = baselines[case.algorithm]
    rng = random.Random(seed)
    totals_list = [int(t) for t in totals]
    count = case.count

    def target():
        return [split(t, count, 1, None, rng) for t in totals_list]

    return target


def _first_call_seconds(module, case: bench.Case, seed: int) -> tuple[float, float]:
    """(wall, CPU) seconds of the first call of this kernel signature in this process: the JIT
    compile, or a load from Numba's on-disk cache."""
    key = (module.__name__, case.impl)
    if key not in _FIRST_CALL_SECONDS:
        one = bench.batch_totals_cents(case.count, 1, seed)
        w0, c0 = time.perf_counter(), time.process_time()
        module.split_batch(
            one,
            case.count,
            algorithm=case.algorithm,
            min_cents=1,
            seed=seed,
            parallel=case.impl == "parallel",
            out=np.empty((1, case.count), dtype=np.int64),
        )
        _FIRST_CALL_SECONDS[key] = (time.perf_counter() - w0, time.process_time() - c0)
    return _FIRST_CALL_SECONDS[key]


def _jit_cache_hits() -> int | None:
    try:
        from hongbao.kernels import batch
    except ImportError:  # pragma: no cover - kernels is part of the distribution
        return None
    kernels = (batch.split_fixed_serial, batch.split_fixed_parallel)
    return int(sum(sum(k.stats.cache_hits.values()) for k in kernels))


def _check_sums(shares, totals: np.ndarray, what: str) -> None:
    sums = [sum(row) for row in shares] if isinstance(shares, list) else np.asarray(shares).sum(axis=1)
    if not np.array_equal(np.asarray(sums, dtype=np.int64), totals):
        raise AssertionError(f"{what}: shares do not add up to the envelope totals")


def _baselines_of(module):
    """The pure-Python baselines beside a kernels package (``<package>.baseline``); the installed
    kernels' for a module that has none (a planted slowdown wrapping split_batch)."""
    try:
        return importlib.import_module(f"{module.__name__}.baseline")
    except ModuleNotFoundError:
        return importlib.import_module("hongbao.kernels.baseline")


def _base_target(base_module, case: bench.Case, totals: np.ndarray, seed: int, out: np.ndarray | None):
    """The base commit's code for ``case``: its Python baseline, or its kernels on the same output."""
    if case.impl == bench.PYTHON:
        return _python_target(case, totals, seed, _baselines_of(base_module).BASELINES)
    return _numba_target(base_module, case, totals, seed, parallel=case.impl == "parallel", out=out)


def bench_split(
    benchmark, case: bench.Case, profile: bench.Profile, seed: int, impl_module, base_module, first: str = "base"
) -> None:
    totals = bench.batch_totals_cents(case.count, case.envelopes, seed)
    extra = {
        "algorithm": case.algorithm,
        "impl": case.impl,
        "count": case.count,
        "envelopes": case.envelopes,
        "shares_per_round": case.shares,
        "profile": profile.name,
    }
    if case.impl == bench.PYTHON:
        baselines = _baselines_of(impl_module)
        target, out = _python_target(case, totals, seed, baselines.BASELINES), None
        extra["baseline"] = f"{baselines.__name__}.{case.algorithm}"
    else:
        extra["compile_seconds"], extra["compile_cpu_seconds"] = _first_call_seconds(impl_module, case, seed)
        extra["jit_cache_hits"] = _jit_cache_hits()
        extra["impl_module"] = impl_module.__name__
        threads = min(case.threads, _numba_threads())
        numba.set_num_threads(threads if case.impl == "parallel" else _numba_threads())
        extra["threads"] = threads
        out = np.empty((case.envelopes, case.count), dtype=np.int64)  # shared with the base commit's kernel
        target = _numba_target(impl_module, case, totals, seed, parallel=case.impl == "parallel", out=out)
    _check_sums(target(), totals, case.id)  # warm-up (JIT, caches) before the round count is chosen

    clock = time.perf_counter if case.impl == "parallel" else time.thread_time
    extra["clock"] = clock.__name__
    benchmark._timer = clock  # pytest-benchmark has no per-test timer option; recorded in options.timer
    t0 = clock()
    target()
    round_s = clock() - t0
    control = bench.PairedControl(case.shares, clock, seed)
    steps: list[Callable[[], object]] = [control.measure]  # the setup hook: these, in order, before every round
    serial = pair = None
    if case.impl == "parallel":
        # the serial kernel on the same batch just before each parallel round, on the same wall clock
        serial = bench.PairedRun(_numba_target(impl_module, case, totals, seed, parallel=False), clock)
        serial.fn()  # warm: its first call in this process may load or compile the serial kernel
        # untimed, then timed: the timed serial run follows a kernel run as the parallel round does,
        # not the control's fill (which leaves the caches cold for whoever comes next)
        steps += [serial.fn, serial.measure]
    if base_module is not None:
        # the base commit's code on the same batch (and output), alternately before and after each round
        base_target = _base_target(base_module, case, totals, seed, out)
        pair = bench.AlternatingPair(base_target, target, clock, first=first)
        _check_sums(base_target(), totals, f"{case.id} at --base-ref {base_module.BASE_COMMIT[:12]}")
        steps = [*steps, pair.before_round]

    def setup():
        for step in steps:
            step()

    # the profile's time budget covers what each round costs: the round, its serial pair (parallel
    # cases: an untimed and a timed serial run) and its base pair (an untimed run and both sides')
    t0 = clock()
    if serial is not None:
        serial.fn()
    cost_s = round_s + 2.0 * (clock() - t0 if serial is not None else 0.0) + (3.0 * round_s if pair else 0.0)
    rounds = bench.rounds_for(cost_s, profile)
    try:
        benchmark.pedantic(target, setup=setup, rounds=rounds, warmup_rounds=1, iterations=1)
    finally:
        numba.set_num_threads(_numba_threads())
    if pair is not None:  # the warm-up round had its pair too
        extra.update(
            bench.base_pair_figures(base_module.BASE_COMMIT, pair.samples[1:], pair.order[1:], pair.new_samples[1:])
        )
    samples = control.samples[1:]  # the first setup call served the warm-up round
    extra["rng_fill_seconds_per_value_samples"] = samples
    extra["rng_fill_seconds_per_value"] = bench.median(samples)
    extra.update(bench.run_figures(extra, benchmark.stats.stats.median))
    if serial is not None:  # the warm-up round had its serial pair too
        extra.update(bench.paired_figures(serial.samples[1:], list(benchmark.stats.stats.data)))
    benchmark.extra_info.update(extra)
