"""Example tests for the kernels: the known bugs of public split code, errors that name the
field, line_cut's exact uniformity, and the 10**8-share envelope."""

from __future__ import annotations

import collections
import itertools
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from scipy import stats

from hongbao import kernels
from hongbao.kernels import ALGORITHMS


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_cap_is_never_broken_by_the_last_share(algorithm):
    """A classic bug: every share but the last respects max, and the last takes what is left."""
    for seed in range(300):
        shares = kernels.split(1000, 10, algorithm=algorithm, min_cents=1, max_cents=101, seed=seed)
        assert shares.max() <= 101 and shares.sum() == 1000


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_last_share_is_never_negative_or_below_min(algorithm):
    for seed in range(300):
        shares = kernels.split(100, 50, algorithm=algorithm, min_cents=2, seed=seed)
        assert shares.min() >= 2 and shares.sum() == 100


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_tight_envelopes_have_one_answer(algorithm):
    assert list(kernels.split(30, 3, algorithm=algorithm, min_cents=10)) == [10, 10, 10]
    assert list(kernels.split(30, 3, algorithm=algorithm, max_cents=10)) == [10, 10, 10]
    assert list(kernels.split(7, 1, algorithm=algorithm)) == [7]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(total=100, count=0), r"count must be >= 1 \(got 0\)"),
        (dict(total=9, count=10), r"total_cents must be >= count x min_cents = 10 x 1 = 10 \(got 9\)"),
        (dict(total=100, count=2, max_cents=49), r"total_cents must be <= count x max_cents"),
        (dict(total=100, count=2, min_cents=10, max_cents=5), r"max_cents must be >= min_cents"),
        (dict(total=-1, count=2), r"total_cents must be >= 0"),
        (dict(total=10.0, count=2), r"total_cents must be an integer number of cents \(got float"),
        (dict(total=True, count=2), r"total_cents must be an integer number of cents \(got bool"),
        (dict(total=10, count="2"), r"count must be an integer"),
        (dict(total=2**63, count=2), r"total_cents must fit in int64"),
        (dict(total=10, count=2, min_cents=-1), r"min_cents must be >= 0"),
        (dict(total=10, count=2, algorithm="fair_dice"), r"algorithm must be one of"),
        (dict(total=10, count=2, impl="cuda"), r"impl must be one of numba, python"),
        (dict(total=10, count=2, seed=-3), r"seed must be >= 0"),
        (dict(total=10**12, count=10**10, min_cents=0), r"count must be <= 1000000000 shares per envelope"),
    ],
)
def test_bad_input_names_the_field(kwargs, message):
    kwargs.setdefault("algorithm", "double_mean")
    total, count = kwargs.pop("total"), kwargs.pop("count")
    with pytest.raises(ValueError, match=message):
        kernels.split(total, count, **kwargs)


def test_batch_errors_name_the_row_field():
    with pytest.raises(ValueError, match="total_cents must be >= count x min_cents"):
        kernels.split_batch([100, 5, 100], 10, algorithm="equal")
    with pytest.raises(ValueError, match="same length"):
        kernels.split_batch([100, 100], [10], algorithm="equal")
    with pytest.raises(ValueError, match="totals must hold integers"):
        kernels.split_batch([100.5], 10, algorithm="equal")
    with pytest.raises(ValueError, match="out must be a C-contiguous int64 array of shape"):
        kernels.split_batch([100], 10, algorithm="equal", out=np.empty((1, 9), np.int64))


@pytest.mark.parametrize("total, count, m", [(8, 3, 1), (6, 3, 0), (12, 4, 2), (20, 3, 1), (8, 5, 1)])
def test_line_cut_is_exactly_uniform_over_compositions(total, count, m):
    """Every composition (shares >= m summing to total) is equally likely: chi-square over all.
    (12, 4, 2) puts 3 cuts on 7 points by sorted distinct draws, repeats frequent (redrawn rounds);
    (20, 3, 1) is the vector path's common case; (8, 5, 1) has too many cuts for that path
    (n(n-1) > points) and takes Vitter's method."""
    comps = [c for c in itertools.product(range(m, total + 1), repeat=count) if sum(c) == total]
    n = 400 * len(comps)
    shares = kernels.split_batch(np.full(n, total), count, algorithm="line_cut", min_cents=m, seed=2024)
    seen = collections.Counter(map(tuple, shares.tolist()))
    assert set(seen) <= set(comps)
    observed = np.array([seen[c] for c in comps])
    p = stats.chisquare(observed).pvalue
    assert p > 1e-4, f"line_cut not uniform over {len(comps)} compositions (p={p:.2g})"


def test_equal_spreads_the_remainder_cents_without_favouring_a_position():
    shares = kernels.split_batch(np.full(20000, 10003), 10, algorithm="equal", seed=1)
    assert set(np.unique(shares)) == {1000, 1001}
    assert (shares.sum(axis=1) == 10003).all()
    extra_by_position = (shares == 1001).sum(axis=0)
    assert stats.chisquare(extra_by_position).pvalue > 1e-4


def test_double_mean_first_share_is_uniform_below_twice_the_mean():
    """WeChat's rule: the first of 10 grabbers of 100.00 gets U[0.01, 20.00)."""
    first = kernels.split_batch(np.full(200_000, 10_000), 10, algorithm="double_mean", seed=3)[:, 0]
    assert first.min() >= 1 and first.max() <= 1999
    counts = np.bincount(first, minlength=2000)[1:2000]
    assert stats.chisquare(counts).pvalue > 1e-4


@pytest.mark.slow
def test_line_cut_of_a_hundred_million_shares_is_exact_in_its_output_array():
    """A campaign-size envelope: 10**8 shares of at least 1 cent out of 5 * 10**9 cents, in a
    fresh process: the peak resident memory it adds (after a small split has loaded the kernels)
    is within 10% of its 800 MB output array."""
    code = textwrap.dedent("""
        import resource, numpy as np
        from hongbao import kernels
        kernels.split(10**6, 70_000, algorithm="line_cut", seed=1)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        n, total = 10**8, 5 * 10**9
        s = kernels.split(total, n, algorithm="line_cut", seed=7)
        ok = s.shape == (n,) and int(s.sum(dtype=np.int64)) == total and int(s.min()) >= 1
        print(ok, before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, s.nbytes // 1024)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    ok, before_kib, peak_kib, array_kib = out.stdout.split()
    assert ok == "True"
    added = int(peak_kib) - int(before_kib)
    assert added <= 1.10 * int(array_kib), (
        f"peak RSS grew {added / 1024:.0f} MiB for a {int(array_kib) / 1024:.0f} MiB array"
    )
