"""Benchmark profiles, the in-run RNG control, and the kit's ratios in pytest-benchmark's ``extra_info``.

Every figure the gate looks at is a ratio to a control measured in the same run, right beside the
benchmark it normalises: numpy's default Generator filling a float64 array with as many values as
the benchmark produces shares (``rng_fill_seconds_per_value``). A kernel's raw samples divided by
its control give "RNG fills per share" (the inverse of ``fraction_of_rng_limit``), a number that
carries from one machine to another far better than seconds do.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: Implementations benchmarked: the stdlib-random baseline, Numba serial, Numba parallel with N threads.
PYTHON, SERIAL = "python", "serial"

#: Gated parallel benchmarks pin Numba to this many threads, so a baseline from a 2-core machine
#: and a run on a 16-core one measure the same thing (the thread-scaling cases add 1 thread).
PARALLEL_THREADS = 2


@dataclass(frozen=True)
class Profile:
    """How much to measure. ``*_shares`` size a batch by shares (envelopes = shares // count)."""

    name: str
    algorithms: tuple[str, ...]
    counts: tuple[int, ...]
    numba_envelopes: tuple[int, ...]  # batch sizes in envelopes (before the shares cap)
    numba_max_shares: int  # cap: envelopes * count <= this
    python_max_envelopes: int
    python_max_shares: int
    scaling_algorithms: tuple[str, ...]  # parallel-t1 cases for thread scaling
    scaling_counts: tuple[int, ...]
    min_rounds: int
    max_time_s: float
    campaign_algorithms: tuple[str, ...] = ()  # one envelope of CAMPAIGN_COUNT shares, serial and parallel


ALL_ALGORITHMS = ("double_mean", "line_cut", "naive", "equal", "beta")
CAMPAIGN_COUNT = 10**8  # a campaign-size envelope (line_cut composes it in blocks on all threads)
COUNTS = (2, 10, 100, 1000)

PROFILES: dict[str, Profile] = {
    # <= 60 s on 2 cores: one batch of ~200k shares per Numba case, ~10k shares per Python case.
    "quick": Profile(
        "quick",
        ALL_ALGORITHMS,
        COUNTS,
        (10**9,),
        200_000,
        10**9,
        10_000,
        ("double_mean",),
        (10,),
        min_rounds=15,
        max_time_s=0.1,
    ),
    # Issue figures: count=10 over 10**6 envelopes; the Python baseline on <= 2k envelopes.
    "full": Profile(
        "full",
        ALL_ALGORITHMS,
        COUNTS,
        (10**4, 10**6),
        10**7,
        2_000,
        200_000,
        ALL_ALGORITHMS,
        (10, 1000),
        min_rounds=10,
        max_time_s=0.5,
        campaign_algorithms=("double_mean", "line_cut"),
    ),
}


@dataclass(frozen=True)
class Case:
    """One benchmark: an algorithm, an implementation, a count and a batch size."""

    algorithm: str
    impl: str  # "python", "serial" or "parallel"
    count: int
    envelopes: int
    threads: int = 1

    @property
    def shares(self) -> int:
        return self.count * self.envelopes

    @property
    def id(self) -> str:
        """Stable pytest id; ``-k`` friendly (``c10-`` selects count 10 only)."""
        impl = f"parallel-t{self.threads}" if self.impl == "parallel" else self.impl
        return f"{self.algorithm}-{impl}-c{self.count}-n{self.envelopes}"


def cases(profile: Profile) -> list[Case]:
    """All benchmarks of a profile, Python baseline first within each (algorithm, count)."""
    out: list[Case] = []
    for algorithm in profile.algorithms:
        for count in profile.counts:
            n_py = max(1, min(profile.python_max_envelopes, profile.python_max_shares // count))
            out.append(Case(algorithm, PYTHON, count, n_py))
            sizes = sorted({max(1, min(n, profile.numba_max_shares // count)) for n in profile.numba_envelopes})
            for n in sizes:
                out.append(Case(algorithm, SERIAL, count, n))
                out.append(Case(algorithm, "parallel", count, n, PARALLEL_THREADS))
                if algorithm in profile.scaling_algorithms and count in profile.scaling_counts:
                    out.append(Case(algorithm, "parallel", count, n, 1))
    for algorithm in profile.campaign_algorithms:
        out.append(Case(algorithm, SERIAL, CAMPAIGN_COUNT, 1))
        out.append(Case(algorithm, "parallel", CAMPAIGN_COUNT, 1, PARALLEL_THREADS))
    return out


def batch_totals_cents(count: int, envelopes: int, seed: int) -> np.ndarray:
    """Envelope totals for a batch: 1 to 100 yuan per person on average, from ``seed``."""
    rng = np.random.default_rng([seed, count, envelopes])
    return count * rng.integers(100, 10_001, size=envelopes, dtype=np.int64)


class PairedControl:
    """Times one RNG fill of ``n_values`` per call (a pytest-benchmark ``pedantic`` setup hook)."""

    def __init__(self, n_values: int, clock: Callable[[], float], seed: int = 0) -> None:
        self.gen = np.random.default_rng(seed)
        self.buf = np.empty(max(1, n_values), dtype=np.float64)
        self.clock = clock
        self.samples: list[float] = []
        self.gen.random(out=self.buf)  # touch the pages once

    def measure(self) -> None:
        t0 = self.clock()
        self.gen.random(out=self.buf)
        self.samples.append((self.clock() - t0) / self.buf.size)


class PairedRun:
    """Times one call of ``fn`` per call of ``measure`` (a pytest-benchmark ``pedantic`` setup hook).

    Used to pair each parallel round with a serial run of the same batch, just before it and on
    the same clock: a spell that slows or speeds up the whole machine then falls on both sides of
    the ratio (the 1-thread parallel case, paired, stays within 1.06-1.13x of serial where the
    unpaired medians of two separate benchmarks gave 0.76-1.59x)."""

    def __init__(self, fn: Callable[[], object], clock: Callable[[], float]) -> None:
        self.fn = fn
        self.clock = clock
        self.samples: list[float] = []

    def measure(self) -> None:
        t0 = self.clock()
        self.fn()
        self.samples.append(self.clock() - t0)


class AlternatingPair:
    """Times ``fn`` (the base commit's kernel) and ``new_fn`` (the benchmarked one) once each per
    round, on the same clock and batch, in alternating order, both inside pytest-benchmark's
    ``setup`` hook (call :meth:`before_round` last in it).

    A base-first round is ``base (untimed), BASE, NEW``; a new-first round is ``new (untimed), NEW,
    BASE``: each first timed run follows a run of the same code and batch, and whatever the second
    place costs or gains falls on each side in half the rounds. Both sides are timed by this one
    mechanism, not one by pytest-benchmark's runner and the other here: timed that way, identical
    code read +15% (double_mean serial c2) and -20% (equal python c1000) in every one of five
    processes (2 vCPUs, 2026-11-30), where timing both here reads within about 1%."""

    BASE_FIRST, NEW_FIRST = "base-first", "new-first"

    def __init__(
        self, fn: Callable[[], object], new_fn: Callable[[], object], clock: Callable[[], float], first: str = "base"
    ) -> None:
        if first not in ("base", "new"):
            raise ValueError(f"first must be 'base' or 'new' (got {first!r})")
        self.base = PairedRun(fn, clock)
        self.new = PairedRun(new_fn, clock)
        self.order: list[str] = []
        self._phase = 0 if first == "base" else 1

    @property
    def samples(self) -> list[float]:
        """The base runs' times, one per round."""
        return self.base.samples

    @property
    def new_samples(self) -> list[float]:
        """The new runs' times, one per round (beside :attr:`samples`)."""
        return self.new.samples

    def before_round(self) -> None:
        first, second = (self.base, self.new) if (len(self.order) + self._phase) % 2 == 0 else (self.new, self.base)
        self.order.append(self.BASE_FIRST if first is self.base else self.NEW_FIRST)
        first.fn()
        first.measure()
        second.measure()


def paired_ratios(numerators: list[float], denominators: list[float]) -> list[float]:
    """The per-round ratios numerator_i / denominator_i (pairs taken in order)."""
    if len(numerators) != len(denominators) or not numerators:
        raise ValueError(f"paired samples differ in length: {len(numerators)} vs {len(denominators)}")
    return [a / b for a, b in zip(numerators, denominators, strict=True)]


def ratio_quartiles(numerators: list[float], denominators: list[float]) -> tuple[float, float, float]:
    """(lower quartile, median, upper quartile) of the per-round ratios numerator_i / denominator_i."""
    q1, med, q3 = np.quantile(paired_ratios(numerators, denominators), [0.25, 0.5, 0.75])
    return float(q1), float(med), float(q3)


def paired_figures(serial: list[float], parallel: list[float]) -> dict:
    """A parallel case's speedup from its rounds, each paired with a serial run just before it:
    the median of the per-round ratios, and their quartiles (how much the host moved it)."""
    q1, med, q3 = ratio_quartiles(serial, parallel)
    return {"paired_serial_seconds_samples": serial, "parallel_speedup": med, "parallel_speedup_quartiles": [q1, q3]}


def base_pair_figures(commit: str, base: list[float], order: list[str], new: list[float]) -> dict:
    """A case's timing against the base commit's code, round by round: both sides' samples (what
    the gate judges) and the median and quartiles of the per-round ratios new / base."""
    q1, med, q3 = ratio_quartiles(new, base)
    return {
        "base_commit": commit,
        "base_seconds_samples": base,
        "base_order": order,
        "paired_new_seconds_samples": new,
        "vs_base": med,
        "vs_base_quartiles": [q1, q3],
    }


def rounds_for(round_seconds: float, profile: Profile, max_rounds: int = 400) -> int:
    """Enough rounds to fill ``profile.max_time_s``, at least ``min_rounds``."""
    wanted = int(profile.max_time_s / max(round_seconds, 1e-6))
    return max(profile.min_rounds, min(max_rounds, wanted))


def run_figures(extra: dict, median_s: float) -> dict:
    """The per-benchmark figures from its median round time and its control."""
    per_share = median_s / extra["shares_per_round"]
    control = extra["rng_fill_seconds_per_value"]
    return {
        "shares_per_second": 1.0 / per_share,
        "fraction_of_rng_limit": control / per_share,
    }


def _key(extra: dict) -> tuple:
    """(algorithm, count); a user's allocator (suites/bench_callable.py) is compared as the
    baseline algorithm it names."""
    return extra.get("baseline_algorithm") or extra.get("algorithm"), extra.get("count")


def add_cross_ratios(benchmarks: list[dict]) -> None:
    """Add speedup_vs_python and parallel_speedup_unpaired to each benchmark dict (pytest-benchmark
    JSON form): ratios of per-share median times of two benchmarks of the same run. (The headline
    ``parallel_speedup`` is paired round by round inside the parallel benchmark itself.)"""

    def per_share(b: dict) -> float:
        return b["stats"]["median"] / b["extra_info"]["shares_per_round"]

    python = {_key(b["extra_info"]): per_share(b) for b in benchmarks if b["extra_info"].get("impl") == PYTHON}
    serial = {
        (*_key(b["extra_info"]), b["extra_info"]["envelopes"]): per_share(b)
        for b in benchmarks
        if b["extra_info"].get("impl") == SERIAL
    }
    for b in benchmarks:
        extra = b["extra_info"]
        if "shares_per_round" not in extra:
            continue
        mine = per_share(b)
        if extra["impl"] != PYTHON and _key(extra) in python:
            extra["speedup_vs_python"] = python[_key(extra)] / mine
        ser = serial.get((*_key(extra), extra["envelopes"]))
        if extra["impl"] == "parallel" and ser is not None:
            extra["parallel_speedup_unpaired"] = ser / mine


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def gated_median(b: dict) -> float:
    """Median of a benchmark's gated samples (raw time per share / paired RNG control) from its JSON dict."""
    extra = b.get("extra_info") or {}
    data = np.asarray(b["stats"]["data"], dtype=np.float64)
    control = extra.get("rng_fill_seconds_per_value_samples")
    if isinstance(control, list) and len(control) == len(data) and extra.get("shares_per_round"):
        return float(np.median(data / extra["shares_per_round"] / np.asarray(control)))
    return float(np.median(data))
