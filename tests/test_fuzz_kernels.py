"""Fuzz the kernels over their whole input domain.

Every call either returns a valid, exact split (length = count, sum = total to the cent, every
share within [min_cents, max_cents], Python reference == Numba kernel for the integer algorithms,
next_share == split()[step] grab after grab) or raises ValueError whose message names the field
or constraint. Anything else (TypeError, OverflowError, a negative share, a crash) fails.

Run ``pytest tests/test_fuzz_kernels.py --hypothesis-show-statistics`` for the case counts.
"""

from __future__ import annotations

import functools
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hongbao import kernels
from tests.support.figures import report_figure

INT64_MAX = 2**63 - 1
ALGOS = sorted(kernels.ALGORITHMS)
ONLINE = sorted(a.name for a in kernels.ALGORITHMS.values() if a.online)
TWIN_EXACT = {a.name for a in kernels.ALGORITHMS.values() if a.twin_exact}  # Python == Numba
FIELDS = (
    "total_cents",
    "count",
    "min_cents",
    "max_cents",
    "seed",
    "envelope_id",
    "algorithm",
    "impl",
    "step",
    "totals",
    "counts",
    "envelope_ids",
)
MAX_COUNT = 400  # bounded so the Python reference stays fast
BIG_COUNT = 20_000  # the Numba-only "huge count" cases

CASES: Counter = Counter()


def counted(test):
    """Count the cases hypothesis runs (shown in the terminal summary)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        CASES[test.__name__] += 1
        return test(*args, **kwargs)

    return wrapper


@pytest.fixture(scope="module", autouse=True)
def _figures(request):
    yield
    if CASES:
        report_figure(
            request.config,
            f"kernel fuzz (hypothesis): {sum(CASES.values())} cases over "
            f"{len(CASES)} properties: " + ", ".join(f"{k} {v}" for k, v in CASES.items()),
        )


FUZZ = settings(
    max_examples=1000,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
FUZZ_LIGHT = settings(FUZZ, max_examples=500)


def edge_ints(lo: int, hi: int) -> st.SearchStrategy[int]:
    """Integers in [lo, hi] with the boundaries (and their neighbours) drawn often."""
    edges = sorted({v for v in (lo, lo + 1, hi - 1, hi, (lo + hi) // 2) if lo <= v <= hi})
    return st.one_of(st.sampled_from(edges), st.integers(lo, hi))


@st.composite
def envelopes(draw, max_count: int = MAX_COUNT) -> dict:
    """A feasible envelope: count >= 1, count*min <= total <= count*max, all in int64."""
    count = draw(st.one_of(st.just(1), st.just(2), edge_ints(1, max_count)))
    min_cents = draw(st.one_of(st.just(0), st.just(1), edge_ints(0, 10**6), edge_ints(0, INT64_MAX // count)))
    shape = draw(st.sampled_from(["uncapped", "capped", "tight_max", "tight_min"]))
    max_cents = None
    lo, hi = count * min_cents, INT64_MAX
    if shape != "uncapped":
        max_cents = draw(edge_ints(max(min_cents, 1), max(min_cents, 1, INT64_MAX // count)))
        hi = count * max_cents
    if shape == "tight_max":
        total = hi
    elif shape == "tight_min":
        total = lo
    else:
        total = draw(st.one_of(edge_ints(lo, min(hi, lo + 10**6)), edge_ints(lo, hi)))
    return dict(total=total, count=count, min_cents=min_cents, max_cents=max_cents)


seeds = st.one_of(st.just(0), edge_ints(0, INT64_MAX))


def assert_valid(shares, env: dict) -> None:
    total, count, m, M = env["total"], env["count"], env["min_cents"], env["max_cents"]
    assert isinstance(shares, np.ndarray) and shares.dtype == np.int64
    values = shares.tolist()
    assert len(values) == count, f"{len(values)} shares for count={count}"
    assert sum(values) == total, f"sum {sum(values)} != total_cents {total} ({env})"
    assert min(values) >= m, f"share {min(values)} < min_cents {m} ({env})"
    if M is not None:
        assert max(values) <= M, f"share {max(values)} > max_cents {M} ({env})"


def line_cut_overflows(env: dict) -> bool:
    """line_cut's documented limit: total - count*(min-1) must fit in int64."""
    return env["total"] - env["count"] * (env["min_cents"] - 1) > INT64_MAX


def call_split(env: dict, algorithm: str, impl: str, seed=0, envelope_id=0):
    return kernels.split(
        env["total"],
        env["count"],
        algorithm=algorithm,
        min_cents=env["min_cents"],
        max_cents=env["max_cents"],
        seed=seed,
        envelope_id=envelope_id,
        impl=impl,
    )


@FUZZ
@given(env=envelopes(), algorithm=st.sampled_from(ALGOS), seed=seeds, envelope_id=seeds)
@example(
    env=dict(total=INT64_MAX, count=2, min_cents=0, max_cents=None), algorithm="naive", seed=INT64_MAX, envelope_id=0
)
@example(
    env=dict(total=INT64_MAX - 1, count=2, min_cents=0, max_cents=INT64_MAX // 2),
    algorithm="double_mean",
    seed=0,
    envelope_id=INT64_MAX,
)
@counted
def test_valid_envelopes_split_exactly(env, algorithm, seed, envelope_id):
    """Feasible input: an exact split, and the Python twin agrees for the integer algorithms."""
    if algorithm == "line_cut" and line_cut_overflows(env):
        with pytest.raises(ValueError, match="total_cents"):
            call_split(env, algorithm, "numba")
        return
    shares = call_split(env, algorithm, "numba", seed, envelope_id)
    assert_valid(shares, env)
    ref = call_split(env, algorithm, "python", seed, envelope_id)
    assert_valid(ref, env)
    if algorithm in TWIN_EXACT:
        assert ref.tolist() == shares.tolist(), f"python != numba for {algorithm} {env}"


@FUZZ_LIGHT
@given(env=envelopes(max_count=BIG_COUNT), algorithm=st.sampled_from(ALGOS), seed=seeds)
@counted
def test_big_counts_numba_only(env, algorithm, seed):
    """Counts up to 20 000: still exact (Numba only; the reference would be slow)."""
    if algorithm == "line_cut" and line_cut_overflows(env):
        return
    assert_valid(call_split(env, algorithm, "numba", seed), env)


# ------------------------------------------------------------------------ hostile values
hostile = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([-1, 0, 1, INT64_MAX, INT64_MAX + 1, -(2**63), 2**64, 2**64 - 1]),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1.0, 0.5, float("nan"), float("inf")]),
    st.text(max_size=8),
    st.binary(max_size=4),
    st.sampled_from(["10", "1e3", "", "0x10", "double_mean"]),
    st.lists(st.integers(0, 5), max_size=3),
    st.builds(
        lambda t, v: t(v),
        st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64]),
        st.integers(0, 100),
    ),
    st.sampled_from(
        [
            np.uint64(2**64 - 1),
            np.int64(-1),
            np.float64(3.0),
            np.bool_(True),
            np.int64(INT64_MAX),
            np.array([3]),
            complex(1, 0),
        ]
    ),
)
BASE = dict(total=1000, count=10, min_cents=1, max_cents=None, seed=7, envelope_id=3)
ARG_FIELD = {
    "total": ("total_cents",),
    "count": ("count",),
    "min_cents": ("min_cents",),
    "max_cents": ("max_cents",),
    "seed": ("seed",),
    "envelope_id": ("envelope_id",),
    "algorithm": ("algorithm",),
    "impl": ("impl",),
}


def small_enough(arg: str, value) -> bool:
    """Keep hostile counts from asking for terabytes: big integer counts are fuzzed with min_cents>=1."""
    return not (
        arg == "count" and isinstance(value, (int, np.integer)) and not isinstance(value, bool) and int(value) > 10**6
    )


@FUZZ
@given(arg=st.sampled_from(sorted(ARG_FIELD)), value=hostile, algorithm=st.sampled_from(ALGOS))
@counted
def test_hostile_arguments_valid_or_named_error(arg, value, algorithm):
    """One argument replaced by anything at all: a valid split or a ValueError naming that field."""
    kwargs = dict(BASE, algorithm=algorithm, impl="numba")
    kwargs[arg] = value
    if not small_enough(arg, value):
        kwargs["min_cents"] = 1  # total 1000 < count x 1: infeasible, no allocation
    try:
        shares = kernels.split(kwargs.pop("total"), kwargs.pop("count"), **kwargs)
    except ValueError as exc:
        msg = str(exc)
        assert any(f in msg for f in ARG_FIELD[arg]) or (
            arg in ("count", "min_cents", "max_cents") and "total_cents" in msg
        ), msg
        return
    env = dict(BASE, **{arg: value})
    env["total"], env["count"] = int(env["total"]), int(env["count"])
    env["min_cents"] = int(env["min_cents"])
    env["max_cents"] = None if env["max_cents"] is None else int(env["max_cents"])
    assert_valid(shares, env)


# ------------------------------------------------------------------------ split_batch
@st.composite
def batches(draw) -> dict:
    """Several envelopes sharing min/max: feasible rows, possibly one infeasible or overflowing row."""
    fixed = draw(st.booleans())
    n = draw(st.integers(0, 6))
    m = draw(st.one_of(st.just(0), st.just(1), edge_ints(0, 1000), edge_ints(0, INT64_MAX)))
    M = draw(st.one_of(st.none(), edge_ints(max(m, 1), INT64_MAX)))
    fixed_count = draw(edge_ints(1, 50))
    counts = [fixed_count] * n if fixed else [draw(edge_ints(1, 50)) for _ in range(n)]
    totals = [draw(st.one_of(edge_ints(0, INT64_MAX), edge_ints(0, 10**6))) for _ in range(n)]
    ids = draw(st.one_of(st.none(), st.lists(edge_ints(0, INT64_MAX), min_size=n, max_size=n)))
    return dict(
        totals=totals,
        counts=fixed_count if fixed else counts,
        count_list=counts,
        min_cents=m,
        max_cents=M,
        envelope_ids=ids,
    )


def row_feasible(total: int, count: int, m: int, M) -> bool:
    return count * m <= total and (M is None or total <= count * M)


@FUZZ_LIGHT
@given(b=batches(), algorithm=st.sampled_from(ALGOS), parallel=st.booleans())
@example(
    b=dict(totals=[5], counts=2, count_list=[2], min_cents=2**62 + 1, max_cents=None, envelope_ids=None),
    algorithm="naive",
    parallel=False,
)  # count x min_cents overflowed int64: negative shares
@example(
    b=dict(
        totals=[INT64_MAX - 1, 1], counts=3, count_list=[3, 3], min_cents=0, max_cents=INT64_MAX // 2, envelope_ids=None
    ),
    algorithm="equal",
    parallel=True,
)
@example(
    b=dict(
        totals=[6, 100], counts=[2, 2], count_list=[2, 2], min_cents=3, max_cents=INT64_MAX // 2 + 1, envelope_ids=None
    ),
    algorithm="naive",
    parallel=True,
)
@example(
    b=dict(totals=[INT64_MAX], counts=[2**40], count_list=[2**40], min_cents=0, max_cents=2**20, envelope_ids=None),
    algorithm="naive",
    parallel=True,
)  # ceil(t / c) overflowed: 8 TiB asked
@counted
def test_split_batch_matches_split_or_names_field(b, algorithm, parallel):
    """split_batch: each row equals split() of that envelope; any infeasible row -> ValueError."""
    totals, counts, m, M = b["totals"], b["count_list"], b["min_cents"], b["max_cents"]
    ids = b["envelope_ids"] or list(range(len(totals)))
    feasible = all(row_feasible(t, c, m, M) for t, c in zip(totals, counts, strict=True))
    if algorithm == "line_cut":
        feasible = feasible and all(t - c * (m - 1) <= INT64_MAX for t, c in zip(totals, counts, strict=True))
    try:
        out = kernels.split_batch(
            totals,
            b["counts"],
            algorithm=algorithm,
            min_cents=m,
            max_cents=M,
            seed=11,
            envelope_ids=b["envelope_ids"],
            parallel=parallel,
        )
    except ValueError as exc:
        assert not feasible, f"feasible batch rejected: {exc}"
        assert any(f in str(exc) for f in FIELDS), str(exc)
        return
    assert feasible, f"infeasible batch accepted: {b}"
    rows = (
        list(out) if isinstance(b["counts"], int) else [out[0][out[1][e] : out[1][e + 1]] for e in range(len(totals))]
    )
    for t, c, i, row in zip(totals, counts, ids, rows, strict=True):
        env = dict(total=t, count=c, min_cents=m, max_cents=M)
        assert_valid(np.asarray(row, dtype=np.int64), env)
        assert row.tolist() == call_split(env, algorithm, "numba", 11, i).tolist()


@FUZZ_LIGHT
@given(
    totals=st.one_of(hostile, st.lists(hostile, max_size=3)), counts=st.one_of(hostile, st.lists(hostile, max_size=3))
)
@counted
def test_split_batch_hostile(totals, counts):
    """Any totals/counts at all: a result or a ValueError naming a field, nothing else."""
    if isinstance(counts, (int, np.integer)) and not isinstance(counts, bool) and int(counts) > 10**6:
        counts = 10**6 + 1
    try:
        kernels.split_batch(totals, counts, algorithm="naive", min_cents=1, seed=1)
    except ValueError as exc:
        assert any(f in str(exc) for f in FIELDS), str(exc)


# ------------------------------------------------------------------------ next_share
@FUZZ
@given(env=envelopes(max_count=60), algorithm=st.sampled_from(ONLINE), seed=seeds, envelope_id=seeds)
@counted
def test_next_share_replays_split(env, algorithm, seed, envelope_id):
    """Grab after grab, next_share(remaining, people left, step) == split()[step]."""
    ref = call_split(env, algorithm, "python", seed, envelope_id).tolist()
    numba = call_split(env, algorithm, "numba", seed, envelope_id).tolist()
    remaining, got = env["total"], []
    for step in range(env["count"]):
        share = kernels.next_share(
            remaining,
            env["count"] - step,
            algorithm=algorithm,
            step=step,
            min_cents=env["min_cents"],
            max_cents=env["max_cents"],
            seed=seed,
            envelope_id=envelope_id,
        )
        assert isinstance(share, int)
        got.append(share)
        remaining -= share
    assert got == ref
    if algorithm in TWIN_EXACT:
        assert got == numba


@FUZZ_LIGHT
@given(
    arg=st.sampled_from(
        ["remaining_cents", "remaining_count", "step", "min_cents", "max_cents", "seed", "envelope_id", "algorithm"]
    ),
    value=hostile,
)
@counted
def test_next_share_hostile(arg, value):
    """next_share with one hostile argument: an int share or a ValueError naming the field."""
    kwargs = dict(
        remaining_cents=500,
        remaining_count=5,
        step=2,
        min_cents=1,
        max_cents=None,
        seed=1,
        envelope_id=2,
        algorithm="double_mean",
    )
    kwargs[arg] = value
    field = {"remaining_cents": "total_cents", "remaining_count": "count"}.get(arg, arg)
    try:
        share = kernels.next_share(kwargs.pop("remaining_cents"), kwargs.pop("remaining_count"), **kwargs)
    except ValueError as exc:
        msg = str(exc)
        assert field in msg or "total_cents" in msg or "online" in msg, msg
        return
    assert isinstance(share, int) and share >= 0


def test_line_cut_has_no_online_form():
    with pytest.raises(ValueError, match="no online form"):
        kernels.next_share(100, 3, algorithm="line_cut", step=0)
