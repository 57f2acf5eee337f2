"""The kernels' contract, stated once as properties: exact sums, bounds, length, determinism,
Python reference == Numba kernel, batch == single, online == batch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hongbao import kernels
from hongbao.kernels import ALGORITHMS

ONLINE = [a.name for a in ALGORITHMS.values() if a.online]


@st.composite
def envelopes(draw, max_count=60):
    """(algorithm, total, count, min, max) drawn so the envelope is feasible."""
    algorithm = draw(st.sampled_from(sorted(ALGORITHMS)))
    count = draw(st.integers(1, max_count))
    m = draw(st.integers(0, 500))
    capped = draw(st.booleans())
    if capped:
        M = draw(st.integers(max(m, 1), max(m, 1) + 5000))
        total = draw(st.integers(count * m, count * M))
    else:
        M = None
        total = draw(st.integers(count * m, count * m + draw(st.sampled_from([0, 10, 10**4, 10**9, 10**15]))))
    return algorithm, total, count, m, M


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(envelopes(), st.integers(0, 2**63 - 1), st.integers(0, 2**40))
def test_split_is_exact_bounded_and_deterministic(env, seed, envelope_id):
    algorithm, total, count, m, M = env
    kw = dict(algorithm=algorithm, min_cents=m, max_cents=M, seed=seed, envelope_id=envelope_id)
    shares = kernels.split(total, count, **kw)
    assert shares.dtype == np.int64 and shares.shape == (count,)
    assert int(shares.sum()) == total
    assert shares.min() >= m
    if M is not None:
        assert shares.max() <= M
    assert np.array_equal(shares, kernels.split(total, count, **kw)), "same inputs, same split"
    # Python reference and Numba kernel draw the same numbers: equal share for share.
    assert np.array_equal(shares, kernels.split(total, count, impl="python", **kw))


@SETTINGS
@given(st.lists(envelopes(max_count=12), min_size=1, max_size=8), st.integers(0, 2**32))
def test_batch_equals_single_for_every_envelope(envs, seed):
    algorithm, _, count, m, M = envs[0]
    totals = [t for (_, t, c, mm, MM) in envs if c == count and mm == m and MM == M] or [envs[0][1]]
    ids = np.arange(7, 7 + len(totals)) * 1000
    single = [
        kernels.split(t, count, algorithm=algorithm, min_cents=m, max_cents=M, seed=seed, envelope_id=int(i))
        for t, i in zip(totals, ids, strict=True)
    ]
    for parallel in (False, True):
        fixed = kernels.split_batch(
            totals, count, algorithm=algorithm, min_cents=m, max_cents=M, seed=seed, envelope_ids=ids, parallel=parallel
        )
        assert [list(r) for r in fixed] == [list(s) for s in single]
    counts = [c for (_, _, c, _, _) in envs]
    totals = [max(t, c * m) if M is None else min(max(t, c * m), c * M) for (_, t, c, _, _) in envs]
    flat, offsets = kernels.split_batch(totals, counts, algorithm=algorithm, min_cents=m, max_cents=M, seed=seed)
    for e, (t, c) in enumerate(zip(totals, counts, strict=True)):
        assert list(flat[offsets[e] : offsets[e + 1]]) == list(
            kernels.split(t, c, algorithm=algorithm, min_cents=m, max_cents=M, seed=seed, envelope_id=e)
        )


@SETTINGS
@given(envelopes(max_count=40), st.integers(0, 2**32), st.integers(0, 2**32))
def test_online_form_replays_the_batch_split(env, seed, envelope_id):
    algorithm, total, count, m, M = env
    if not ALGORITHMS[algorithm].online:
        with pytest.raises(ValueError, match="no online form"):
            kernels.next_share(total, count, algorithm=algorithm, step=0, min_cents=m, max_cents=M)
        return
    batch = kernels.split(
        total, count, algorithm=algorithm, min_cents=m, max_cents=M, seed=seed, envelope_id=envelope_id
    )
    remaining, grabbed = total, []
    for step in range(count):
        share = kernels.next_share(
            remaining,
            count - step,
            algorithm=algorithm,
            step=step,
            min_cents=m,
            max_cents=M,
            seed=seed,
            envelope_id=envelope_id,
        )
        grabbed.append(share)
        remaining -= share
    assert grabbed == list(batch) and remaining == 0


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_simd_path_equals_reference_across_block_edges(algorithm):
    """The vector path works in blocks of 64 envelopes; tails, huge totals (>= 2**52, where the
    float quotient is not used) and capped batches go through the scalar lanes."""
    rng = np.random.default_rng(1)
    totals = rng.integers(10, 10**7, 64 * 3 + 17)
    totals[70] = 2**60  # one block falls back to exact integer division
    if algorithm == "line_cut":
        totals[70] = 10**12
    for count in (2, 10, 33):
        got = kernels.split_batch(totals, count, algorithm=algorithm, seed=99, parallel=False)
        code = ALGORITHMS[algorithm].code
        from hongbao.kernels.reference import split as reference_split

        for e in range(0, len(totals), 7):
            assert list(got[e]) == reference_split(code, int(totals[e]), count, 1, -1, 99, e)


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_counts_past_the_simd_scratch_limit_take_the_scalar_lanes_with_the_same_shares(algorithm):
    """Above batch.VECTOR_MAX_COUNT people a batch skips the SIMD path (its scratch is count x 64):
    the rows still equal one-envelope splits on either side of the limit."""
    from hongbao.kernels.batch import VECTOR_MAX_COUNT

    for count in (VECTOR_MAX_COUNT, VECTOR_MAX_COUNT + 1):
        totals = np.arange(70) * 7 + 100 * count
        got = kernels.split_batch(totals, count, algorithm=algorithm, seed=4, parallel=True)
        for e in (0, 63, 64, 69):
            assert np.array_equal(
                got[e], kernels.split(int(totals[e]), count, algorithm=algorithm, seed=4, envelope_id=e)
            )


def test_split_does_not_depend_on_thread_count():
    import numba

    totals = np.full(5000, 88_888)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = kernels.split_batch(totals, 10, algorithm="double_mean", seed=5)
        numba.set_num_threads(before)
        many = kernels.split_batch(totals, 10, algorithm="double_mean", seed=5)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(one, many)


def test_the_kit_log_is_libm_accurate_and_the_same_in_python_and_numba():
    """rng.log_pos (beta's Gamma(2) draws) uses IEEE operations only: the Numba form equals the
    Python twin bit for bit, and both are within 2 ulp of libm's log over (0, 1] and beyond."""
    import math

    from hongbao.kernels import rng
    from hongbao.kernels._jit import jit

    @jit
    def logs(xs, out):
        for i in range(xs.shape[0]):
            out[i] = rng.log_pos(xs[i])

    gen = np.random.default_rng(5)
    xs = np.concatenate(
        [
            gen.random(20_000),
            gen.random(2_000) ** 60,
            gen.random(2_000) * 1e6,
            [1.0, 0.5, 2.0**-108, 1 - 2.0**-53, 2.0**-54, math.sqrt(0.5), math.sqrt(2)],
        ]
    )
    xs = xs[xs > 0]
    got = np.empty_like(xs)
    logs(xs, got)
    twin = np.array([rng.py_log(float(x)) for x in xs])
    assert np.array_equal(got.view(np.uint64), twin.view(np.uint64))
    assert rng.py_log(1.0) == 0.0
    ulp = np.abs(got - np.log(xs)) / np.spacing(np.abs(np.log(xs)) + (xs == 1))
    assert ulp.max() <= 2.0
