"""The exact first-share laws against brute-force enumeration on small envelopes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hongbao import kernels
from hongbao.harness.fairness import theory


def _pmf(algorithm, total, count, m):
    _, lo, hi, cdf = theory.first_share_law(algorithm, total, count, m)
    xs = np.arange(lo - 2, hi + 3)
    return dict(zip(xs.tolist(), np.diff(cdf(np.concatenate([[xs[0] - 1], xs]))).tolist(), strict=True))


@pytest.mark.parametrize("total,count,m", [(12, 4, 1), (15, 3, 2), (9, 5, 0), (7, 2, 1)])
def test_line_cut_law_is_the_uniform_composition_marginal(total, count, m):
    firsts = [c[0] for c in itertools.product(range(m, total + 1), repeat=count) if sum(c) == total]
    want = {x: firsts.count(x) / len(firsts) for x in set(firsts)}
    got = _pmf("line_cut", total, count, m)
    for x, pr in got.items():
        assert pr == pytest.approx(want.get(x, 0.0), abs=1e-9), x


@pytest.mark.parametrize("algorithm", ["double_mean", "naive", "equal"])
@pytest.mark.parametrize("total,count,m", [(101, 4, 1), (30, 7, 2), (10, 10, 1)])
def test_uniform_laws_match_the_kernel_support(algorithm, total, count, m):
    # the law's support is exactly the set of first shares the kernel produces
    shares = kernels.split_batch(np.full(4000, total), count, algorithm=algorithm, min_cents=m, seed=3)[:, 0]
    pmf = _pmf(algorithm, total, count, m)
    support = {x for x, p in pmf.items() if p > 0}
    assert set(np.unique(shares).tolist()) == support
    assert sum(pmf.values()) == pytest.approx(1.0)


def test_beta_law_sums_to_one_and_fits():
    pmf = _pmf("beta", 200, 5, 1)
    assert sum(pmf.values()) == pytest.approx(1.0)
    shares = kernels.split_batch(np.full(20000, 200), 5, algorithm="beta", seed=4)[:, 0]
    assert theory.first_share_fit(shares, "beta", 200, 5, 1)["p_value"] > 1e-4


def test_fit_flags_a_wrong_law():
    shares = kernels.split_batch(np.full(20000, 10_000), 10, algorithm="naive", seed=4)[:, 0]
    assert theory.first_share_fit(shares, "line_cut", 10_000, 10, 1)["p_value"] < 1e-6
    assert theory.first_share_law("line_cut", 100, 1) is None


@pytest.mark.parametrize("total, count, position", [(10_003, 10, 0), (10_003, 10, 6), (1_000_000, 3, 1)])
def test_beta_shares_follow_the_beta_law_at_every_position(total, count, position):
    """The Dirichlet(2, ..., 2) draw (normalised Gamma(2) = -log(u1 u2)) keeps the law: the first
    share is m + round(excess x Beta(2, 2(N-1))), and by exchangeability so is every position's but
    the last (the remainder). 200,000 envelopes through the vector path."""
    shares = kernels.split_batch(np.full(200_000, total), count, algorithm="beta", seed=21)[:, position]
    assert theory.first_share_fit(shares, "beta", total, count, 1)["p_value"] > 1e-4
